/** Adam over a named set of float32 tensors, with optional per-tensor masks (projected update for pruning). */
export class Adam {
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;
  constructor(public lr: number, private readonly b1 = 0.9, private readonly b2 = 0.999, private readonly eps = 1e-8) {}

  /** Call once per step before the `update`s of that step. */
  tick(): void { this.t++; }

  /** `maskedDecay`: masked weights are multiplied by it (gradual pruning) instead of zeroed; 0 = cut. */
  update(name: string, w: Float32Array, g: Float32Array, mask?: Uint8Array, weightDecay = 0, maskedDecay = 0): void {
    let m = this.m.get(name), v = this.v.get(name);
    if (!m || !v) { m = new Float32Array(w.length); v = new Float32Array(w.length); this.m.set(name, m); this.v.set(name, v); }
    const { b1, b2, eps } = this;
    const a = (this.lr * Math.sqrt(1 - b2 ** this.t)) / (1 - b1 ** this.t);
    for (let i = 0; i < w.length; i++) {
      const gi = g[i] + weightDecay * w[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      w[i] -= (a * mi) / (Math.sqrt(vi) + eps);
    }
    if (mask) for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] *= maskedDecay;
  }
}

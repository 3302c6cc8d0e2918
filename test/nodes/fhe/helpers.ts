import ort from "onnxruntime-node";
import { mulberry32 } from "../../../nodes/fhe/random-model.ts";

/** Plaintext reference: the same ONNX bytes through onnxruntime-node. */
export async function ortSession(bytes: Uint8Array) {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  return {
    async run(x: Float32Array): Promise<Float32Array> {
      const r = await session.run({ [inputName]: new ort.Tensor("float32", x, [1, x.length]) });
      return Float32Array.from(r[outputName].data as Float32Array);
    },
    release: () => session.release(),
  };
}

export function randomInput(n: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rnd() * 2 - 1);
}

/** max |a − b| divided by the range of the reference. */
export function relMaxError(got: Float32Array, ref: Float32Array): number {
  let max = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < ref.length; i++) {
    max = Math.max(max, Math.abs(got[i] - ref[i]));
    lo = Math.min(lo, ref[i]);
    hi = Math.max(hi, ref[i]);
  }
  return max / Math.max(hi - lo, 1e-12);
}

export function argmax(v: Float32Array): number {
  let k = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[k]) k = i;
  return k;
}

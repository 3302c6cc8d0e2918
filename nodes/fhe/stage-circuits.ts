import type { CipherText } from "node-seal/implementation/cipher-text.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import type { GaloisKeys } from "node-seal/implementation/galois-keys.js";
import type { PlainText } from "node-seal/implementation/plain-text.js";
import type { RelinKeys } from "node-seal/implementation/relin-keys.js";
import type { LanePts, LinearPts, StagePts } from "./encoded-stages.ts";
import type { PoolHandle, PublicSeal } from "./seal.ts";

/**
 * The homomorphic circuit of each stage kind, on ciphertexts and the stage's encoded plaintexts: linear (baby-step /
 * giant-step over generalized diagonals), lane-packed linear, square (one ct×ct multiply, relinearized) and affine.
 * Level budget: a linear stage, a lane-packed stage and a square each spend one rescale (one prime of the coefficient
 * modulus), an affine stage one if it scales and none if it only shifts; plan.ts assigns the levels and checks that
 * the chain is long enough for the schedule.
 * Every ciphertext made here is owned: returned to the caller, or deleted on every path.
 */
export class StageCircuits {
  constructor(private readonly seal: PublicSeal, private readonly evaluator: Evaluator, private readonly pool: PoolHandle) {}

  run(st: StagePts, vec: CipherText[], gk: GaloisKeys, rk: RelinKeys | null): CipherText[] {
    const ev = this.evaluator;
    const seal = this.seal;
    const pool = this.pool;
    if (st.kind === "square") {
      return vec.map((x, b) => {
        const y = seal.CipherText({ pool });
        if (st.shift) { ev.addPlain(x, alignScale(st.shift[b], x), y, pool); ev.square(y, y, pool); } else ev.square(x, y, pool);
        ev.relinearize(y, rk!, y, pool);
        ev.rescaleToNext(y, y, pool);
        return y;
      });
    }
    if (st.kind === "affine") {
      return vec.map((x, b) => {
        const y = x.clone();
        if (st.scale) { ev.multiplyPlain(y, st.scale[b], y, pool); ev.rescaleToNext(y, y, pool); }
        if (st.shift) ev.addPlain(y, alignScale(st.shift[b], y), y, pool);
        return y;
      });
    }
    if (st.kind === "lanes") return [this.runLanes(st, (pt) => this.laneProduct(vec[0]!, pt), gk)];
    return this.runLinear(st, vec[0], gk);
  }

  /** rescale(P_g ⊙ z): one giant step's product of the lane-packed stage, one level down (the caller owns it). */
  laneProduct(z: CipherText, pt: PlainText): CipherText {
    const c = this.seal.CipherText({ pool: this.pool });
    try {
      this.evaluator.multiplyPlain(z, pt, c, this.pool);
      this.evaluator.rescaleToNext(c, c, this.pool);
      return c;
    } catch (err) {
      c.delete();
      throw err;
    }
  }

  /**
   * The lane-packed first linear stage (plan.ts, LaneLinearSchedule): Horner over the giant steps on products
   * rescaled first (acc = rot(acc, B) + rescale(P_g ⊙ z); the rotations then run one level down, where a key switch
   * is cheaper), then rotate-and-add by p, 2p, …, S/2 to sum the lanes and replicate y. `product` is asked for the
   * giant steps' products from the top one down (laneProduct, or another worker's, in a split step); it hands over
   * ownership.
   */
  runLanes(st: LanePts, product: (pt: PlainText) => CipherText, gk: GaloisKeys): CipherText {
    const ev = this.evaluator;
    const pool = this.pool;
    let gi = st.giants.length - 1;
    const acc = product(st.giants[gi]!.pt);
    const tmp = this.seal.CipherText({ pool });
    try {
      for (let g = st.giants[gi]!.g - 1; g >= 0; g--) {
        ev.rotateVector(acc, st.B, gk, acc, pool);
        if (gi > 0 && st.giants[gi - 1]!.g === g) {
          gi--;
          const c = product(st.giants[gi]!.pt);
          ev.add(acc, c, acc);
          c.delete();
        }
      }
      for (const step of st.sumSteps) {
        ev.rotateVector(acc, step, gk, tmp, pool);
        ev.add(acc, tmp, acc);
      }
      if (st.bias) ev.addPlain(acc, alignScale(st.bias[0]!, acc), acc, pool);
      return acc;
    } catch (err) {
      acc.delete();
      throw err;
    } finally {
      tmp.delete();
    }
  }

  /**
   * The linear stage on `x`, for output blocks [range[0], range[1]) (default all). `shared` (round plans): baby-step
   * rotations of `x` made by an earlier matrix on the same input are reused, and the ones made here are left in it
   * (the caller owns and frees them) — two matrices reading one register rotate it once.
   */
  runLinear(st: LinearPts, x: CipherText, gk: GaloisKeys, range: [number, number] = [0, st.blocks.length],
    shared?: Map<number, CipherText>): CipherText[] {
    const ev = this.evaluator;
    const seal = this.seal;
    const pool = this.pool;
    const baby = shared ?? new Map<number, CipherText>();
    const owned: CipherText[] = [];
    const keep = (r: CipherText) => { if (shared === undefined) owned.push(r); };
    const tmp = seal.CipherText({ pool });
    const outs: CipherText[] = [];
    try {
      baby.set(0, x);
      if (st.chained) {
        let prev = x;
        const max = st.babies[st.babies.length - 1] ?? 0;
        for (let j = 1; j <= max; j++) {
          const have = baby.get(j);
          if (have !== undefined) { prev = have; continue; }
          const r = seal.CipherText({ pool });
          keep(r);
          ev.rotateVector(prev, 1, gk, r, pool);
          baby.set(j, r);
          prev = r;
        }
      } else {
        for (const j of st.babies) {
          if (j === 0 || baby.has(j)) continue;
          const r = seal.CipherText({ pool });
          keep(r);
          ev.rotateVector(x, j, gk, r, pool);
          baby.set(j, r);
        }
      }
      const inner = (terms: { j: number; pt: PlainText }[]): CipherText => {
        const acc = seal.CipherText({ pool });
        ev.multiplyPlain(baby.get(terms[0].j)!, terms[0].pt, acc, pool);
        for (let t = 1; t < terms.length; t++) {
          ev.multiplyPlain(baby.get(terms[t].j)!, terms[t].pt, tmp, pool);
          ev.add(acc, tmp, acc);
        }
        return acc;
      };
      // Each inner sum is rescaled before its giant rotation: key switching at one level lower is cheaper than the
      // extra rescale (measured), and the accumulator then already sits at the output level.
      const innerAt = (terms: { j: number; pt: PlainText }[]): CipherText => {
        const c = inner(terms);
        ev.rescaleToNext(c, c, pool);
        return c;
      };
      for (let b = range[0]; b < range[1]; b++) {
        const giants = st.blocks[b].giants;
        let acc: CipherText;
        if (st.horner) {
          // Horner from the top nonzero giant step: acc = rot(acc, B) + inner_g; only the key for step B is needed.
          let gi = giants.length - 1;
          acc = innerAt(giants[gi].terms);
          outs.push(acc);
          for (let g = giants[gi].g - 1; g >= 0; g--) {
            ev.rotateVector(acc, st.B, gk, acc, pool);
            if (gi > 0 && giants[gi - 1].g === g) {
              gi--;
              const i = innerAt(giants[gi].terms);
              ev.add(acc, i, acc);
              i.delete();
            }
          }
        } else {
          acc = innerAt(giants[0].terms);
          outs.push(acc);
          if (giants[0].g > 0) ev.rotateVector(acc, giants[0].g * st.B, gk, acc, pool);
          for (let k = 1; k < giants.length; k++) {
            const i = innerAt(giants[k].terms);
            ev.rotateVector(i, giants[k].g * st.B, gk, i, pool);
            ev.add(acc, i, acc);
            i.delete();
          }
        }
        if (st.bias) ev.addPlain(acc, alignScale(st.bias[b], acc), acc, pool);
      }
      return outs.splice(0);
    } finally {
      owned.forEach((c) => c.delete());
      tmp.delete();
      outs.forEach((c) => c.delete());
    }
  }
}

/** SEAL adds only equal scales; our mirrored scale can differ from SEAL's by rounding in the last bit. */
function alignScale(pt: PlainText, ct: CipherText): PlainText {
  const s = ct.scale;
  if (pt.scale !== s) pt.setScale(s);
  return pt;
}

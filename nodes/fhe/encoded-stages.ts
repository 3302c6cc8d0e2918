import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import type { PlainText } from "node-seal/implementation/plain-text.js";
import type { PlanDescriptor, StageSchedule } from "./plan.ts";
import type { FheContext, PoolHandle, PublicSeal } from "./seal.ts";

/**
 * The plan's weights as SEAL plaintexts, one kind per stage: each diagonal, bias and shift encoded once, at the level
 * and scale the stage's circuit (stage-circuits.ts) meets it with. Scales are mirrored in double arithmetic exactly
 * as SEAL computes them, so a plaintext added later matches its ciphertext's scale to the last bit.
 */
export type LinearPts = {
  kind: "linear"; level: number; B: number; chained: boolean; horner: boolean; babies: number[];
  blocks: { giants: { g: number; terms: { j: number; pt: PlainText }[] }[] }[]; bias: PlainText[] | null;
};
export type LanePts = {
  kind: "lanes"; level: number; B: number; giants: { g: number; pt: PlainText }[]; sumSteps: number[]; bias: PlainText[] | null;
};
export type SquarePts = { kind: "square"; level: number; shift: PlainText[] | null };
export type AffinePts = { kind: "affine"; level: number; scale: PlainText[] | null; shift: PlainText[] | null };
export type StagePts = LinearPts | LanePts | SquarePts | AffinePts;

/** What encoding needs of the evaluator's SEAL objects. */
export interface EncodingKit {
  readonly seal: PublicSeal;
  readonly fc: FheContext;
  readonly encoder: CKKSEncoder;
  readonly evaluator: Evaluator;
  readonly pool: PoolHandle;
}

export function encodeStages(k: EncodingKit, schedule: StageSchedule[], rotationKeys: PlanDescriptor["rotationKeys"],
  track: (pt: PlainText) => PlainText): StagePts[] {
  const fc = k.fc;
  const encoded: StagePts[] = [];
  let scale = 2 ** fc.set.scaleBits;
  const enc = (v: Float64Array, s: number, level: number): PlainText => {
    const pt = k.seal.PlainText({ pool: k.pool });
    k.encoder.encode(v, s, pt, k.pool);
    if (level < fc.parmsIds.length - 1) k.evaluator.plainModSwitchTo(pt, fc.parmsIds[level], pt);
    return track(pt);
  };
  try {
    for (const st of schedule) {
      // Mirror SEAL's double arithmetic for scales so that plaintexts added later match exactly.
      if (st.kind === "linear") {
        const q = fc.primeAt[st.level];
        const blocks = st.blocks.map((bp) => ({
          giants: bp.giants.map(({ g, terms }) => ({ g, terms: terms.map(({ j, diag }) => ({ j, pt: enc(diag, q, st.level) })) })),
        }));
        scale = (scale * q) / q;
        const bias = st.bias ? st.bias.map((v) => enc(v, scale, st.level - 1)) : null;
        const mode = rotationKeys;
        encoded.push({ kind: "linear", level: st.level, B: st.B, chained: mode === "min", horner: mode === "min",
          babies: st.babies, blocks, bias });
      } else if (st.kind === "lanes") {
        const q = fc.primeAt[st.level];
        const giants = st.giants.map(({ g, diag }) => ({ g, pt: enc(diag, q, st.level) }));
        scale = (scale * q) / q;
        const bias = st.bias ? st.bias.map((v) => enc(v, scale, st.level - 1)) : null;
        encoded.push({ kind: "lanes", level: st.level, B: st.B, giants, sumSteps: st.sumSteps, bias });
      } else if (st.kind === "square") {
        const shift = st.shift ? st.shift.map((v) => enc(v, scale, st.level)) : null;
        scale = (scale * scale) / fc.primeAt[st.level];
        encoded.push({ kind: "square", level: st.level, shift });
      } else {
        let sc: PlainText[] | null = null;
        let lvl = st.level;
        if (st.scale) {
          const q = fc.primeAt[st.level];
          sc = st.scale.map((v) => enc(v, q, st.level));
          scale = (scale * q) / q;
          lvl -= 1;
        }
        const shift = st.shift ? st.shift.map((v) => enc(v, scale, lvl)) : null;
        encoded.push({ kind: "affine", level: st.level, scale: sc, shift });
      }
    }
    return encoded;
  } catch (err) {
    for (const st of encoded) forEachPt(st, (pt) => pt.delete());
    throw err;
  }
}

/** Calls `f` on every plaintext of a stage (to free them). */
export function forEachPt(st: StagePts, f: (pt: PlainText) => void): void {
  if (st.kind === "linear") {
    st.blocks.forEach((b) => b.giants.forEach((g) => g.terms.forEach((t) => f(t.pt))));
    st.bias?.forEach(f);
  } else if (st.kind === "lanes") {
    st.giants.forEach((g) => f(g.pt));
    st.bias?.forEach(f);
  } else if (st.kind === "square") st.shift?.forEach(f);
  else { st.scale?.forEach(f); st.shift?.forEach(f); }
}

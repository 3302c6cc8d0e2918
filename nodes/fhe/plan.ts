import { sha256Hex } from "../core/sha256.ts";
import { z } from "zod";
import { compileOnnx, graphLevels, type Stage, type StageGraph } from "./compiler.ts";
import { diagonal, linearLayout, nextPow2, type LinearLayout } from "./diagonals.ts";
import { UnsupportedOpError } from "./errors.ts";
import { PARAM_SET_NAMES, selectParamSet, slotCount, type ParamSet } from "./params.ts";

/**
 * Circuit squeeze, part 2: stages → an executable schedule (levels, BSGS rotations, skipped zero diagonals) and the
 * public PlanDescriptor a client needs (parameters, rotation steps, input/output packing, size caps).
 *
 * Rotation-key modes (the dial between key bytes and latency):
 *  - "min":   keys for steps {1, B} only. Baby steps are chained rotations by 1, giant steps Horner-style
 *             (acc = rot(acc, B) + inner_g, from the top), diagonals pre-rotated by −g·B. A first linear stage whose
 *             input the client packs in lanes (LaneLinearSchedule) adds the keys p, 2p, …, S/2.
 *  - "full":  keys for every baby step j < B and giant step g·B used; each rotation is one key switch, and a giant
 *             block whose diagonals are all zero skips its rotation. Fastest, ≈ 1 MB of keys per step at N = 8192.
 *  - "naive": the textbook diagonal method without BSGS — one rotation per nonzero diagonal — with SEAL's default
 *             power-of-two keys (each rotation decomposed into NAF power-of-two key switches). For comparison.
 */
export const ZERO_BLOCK_EPSILON = 2 ** -24;

export const ROTATION_MODES = ["min", "full", "naive"] as const;
export type RotationMode = (typeof ROTATION_MODES)[number];

export interface PlanOptions {
  /** Force a parameter set (else the cheapest with enough levels). */
  readonly params?: string;
  readonly rotationKeys?: RotationMode;
  /** Baby-step count B (power of two); default √p rounded up to a power of two. */
  readonly babySteps?: number;
}

export interface LinearSchedule {
  readonly kind: "linear";
  readonly level: number;
  readonly layout: LinearLayout;
  readonly B: number;
  readonly G: number;
  /** Baby steps (rotation amounts of the input) used by any nonzero diagonal, ascending; 0 = the input itself. */
  readonly babies: number[];
  /** Per output block: giant steps with at least one nonzero diagonal, each with its baby terms. */
  readonly blocks: { giants: { g: number; terms: { j: number; diag: Float64Array }[] }[] }[];
  readonly bias: Float64Array[] | null;
}
/**
 * A first linear stage on a lane-packed input ("min" mode; the input is the client's, so its layout costs nothing).
 * The client encrypts L = S/(2p) lanes of width 2p, lane ℓ holding x rotated left by ℓ (with period p): the baby
 * steps arrive pre-rotated. The products then cover every lane at once: per giant step g, one plaintext holds in
 * lane ℓ's first half the diagonal g·B + ℓ, and zero in the second half (where a rotation by g·B ≤ p − B reads into
 * the next lane), so Σ_g P_g ⊙ rot(z, g·B) holds in lane ℓ the terms of baby step ℓ. Rotate-and-add by p, 2p, …, S/2
 * then sums the lanes and fills every half: y = M·x replicated with period outP, the layout the next stage reads.
 * Cost: max g rotations by B (Horner, on products rescaled one level down) + log2(S/p) rotate-and-adds at that
 * level and one plaintext multiply per giant step — instead of B − 1 rotations at the input level and one multiply
 * per nonzero diagonal — for log2(S/p) more Galois keys. Used when L ≥ 2, outP ≤ p and it takes fewer rotations
 * than the classic schedule (so for wide inputs: a narrow one would pay more rotate-and-adds than it saves).
 */
export interface LaneLinearSchedule {
  readonly kind: "lanes";
  readonly level: number;
  readonly layout: LinearLayout;
  readonly B: number;
  /** Lanes of the input (S/(2p)); lanes ℓ ≥ B carry no diagonal. */
  readonly lanes: number;
  /** Giant steps with a nonzero diagonal, ascending, each plaintext pre-rotated right by g·B (for the Horner chain). */
  readonly giants: { g: number; diag: Float64Array }[];
  /** Rotate-and-add steps after the products: p, 2p, …, S/2. */
  readonly sumSteps: number[];
  readonly bias: Float64Array[] | null;
}
export interface SquareSchedule { readonly kind: "square"; readonly level: number; readonly shift: Float64Array[] | null }
export interface AffineSchedule {
  readonly kind: "affine"; readonly level: number; readonly scale: Float64Array[] | null; readonly shift: Float64Array[] | null;
}
export type StageSchedule = LinearSchedule | LaneLinearSchedule | SquareSchedule | AffineSchedule;

export const PlanDescriptorSchema = z.object({
  version: z.literal(2),
  planId: z.string().regex(/^[0-9a-f]{64}$/),
  modelHash: z.string().regex(/^[0-9a-f]{64}$/),
  options: z.object({
    params: z.string().max(64).nullable(),
    rotationKeys: z.enum(ROTATION_MODES),
    babySteps: z.number().int().positive().nullable(),
  }),
  params: z.enum(PARAM_SET_NAMES as [string, ...string[]]),
  rotationKeys: z.enum(ROTATION_MODES),
  inputDim: z.number().int().positive(),
  inputPeriod: z.number().int().positive(),
  /**
   * 0: the input is replicated with period inputPeriod. L > 0: L lanes of width S/L = 2·inputPeriod, lane ℓ holding
   * the input rotated left by ℓ (LaneLinearSchedule).
   */
  inputLanes: z.number().int().nonnegative(),
  inputLevel: z.number().int().nonnegative(),
  outputDim: z.number().int().positive(),
  outputBlocks: z.number().int().positive().max(64),
  galoisSteps: z.array(z.number().int().positive()).max(64),
  galoisPow2: z.boolean(),
  relin: z.boolean(),
  caps: z.object({
    inputCiphertextBytes: z.number().int().positive(),
    outputCiphertextBytes: z.number().int().positive(),
    galoisKeyBytes: z.number().int().nonnegative(),
    relinKeyBytes: z.number().int().nonnegative(),
  }),
  summary: z.object({
    levels: z.number().int().nonnegative(),
    rotations: z.number().int().nonnegative(),
    keySwitches: z.number().int().nonnegative(),
    ptMults: z.number().int().nonnegative(),
    ctMults: z.number().int().nonnegative(),
    diagonalsTotal: z.number().int().nonnegative(),
    diagonalsSkipped: z.number().int().nonnegative(),
  }),
});
/** Public plan layout, sent by the miner at session open; everything a client needs and nothing secret. */
export type PlanDescriptor = z.infer<typeof PlanDescriptorSchema>;
export type PlanSummary = PlanDescriptor["summary"] & { params: string; galoisSteps: number[]; galoisPow2: boolean; relin: boolean };

export interface CompiledPlan {
  readonly descriptor: PlanDescriptor;
  readonly set: ParamSet;
  readonly schedule: StageSchedule[];
}

/** Plan options with defaults filled in, in a fixed key order (they are hashed into the plan id). */
export function normalizePlanOptions(o: PlanOptions): NormalizedPlanOptions {
  return { params: o.params ?? null, rotationKeys: o.rotationKeys ?? "min", babySteps: o.babySteps ?? null };
}
export interface NormalizedPlanOptions { params: string | null; rotationKeys: RotationMode; babySteps: number | null }

export function modelHashOf(modelBytes: Uint8Array): string {
  return sha256Hex(modelBytes);
}

/**
 * planId = sha256("cerberus-fhe-plan-v2" ‖ modelHash ‖ canonical options) (v2: lane-packed inputs). Derived from
 * the model's sha256 (the Brain's on-chain modelHash) rather than the bytes, so a client can check a miner's
 * descriptor against the chain with `planIdFor(brain.modelHash, descriptor.options)` without downloading the model.
 */
export function planIdFor(modelHash: string, options: PlanOptions | NormalizedPlanOptions): string {
  const n = normalizePlanOptions({ params: options.params ?? undefined, rotationKeys: options.rotationKeys,
    babySteps: options.babySteps ?? undefined });
  return sha256Hex(`cerberus-fhe-plan-v2\u0000${modelHash.toLowerCase()}\u0000${JSON.stringify(n)}`);
}

export function planIdOf(modelBytes: Uint8Array, options: PlanOptions): string {
  return planIdFor(modelHashOf(modelBytes), options);
}

export function compilePlan(modelBytes: Uint8Array, options: PlanOptions = {}): CompiledPlan {
  const graph = compileOnnx(modelBytes);
  const levels = graphLevels(graph);
  const set = selectParamSet(levels, options.params);
  const mode: RotationMode = options.rotationKeys ?? "min";
  if (!ROTATION_MODES.includes(mode)) throw new UnsupportedOpError("plan", `rotation key mode ${String(mode)}`);
  return schedulePlan(graph, set, mode, options, modelHashOf(modelBytes), levels);
}

function schedulePlan(graph: StageGraph, set: ParamSet, mode: RotationMode, options: PlanOptions, modelHash: string,
  levels: number): CompiledPlan {
  const S = slotCount(set);
  if (graph.inputDim > S) {
    throw new UnsupportedOpError("input", `input of ${graph.inputDim} values exceeds one ciphertext (${S} slots)`);
  }
  let level = levels;
  // Layout of the current vector: replication period (single ciphertext) or number of blocks.
  let period = nextPow2(graph.inputDim);
  let blocks = 1;
  let dim = graph.inputDim;
  const steps = new Set<number>();
  let rotations = 0;
  let keySwitches = 0;
  let ptMults = 0;
  let ctMults = 0;
  let diagonalsTotal = 0;
  let diagonalsSkipped = 0;
  let relin = false;
  const schedule: StageSchedule[] = [];
  const lay = (v: Float64Array): Float64Array[] => layoutVector(v, dim, period, blocks, S);

  let inputLanes = 0;
  for (const [index, stage] of graph.stages.entries()) {
    if (stage.kind === "linear") {
      if (blocks !== 1) throw new UnsupportedOpError("MatMul", "input spread over several ciphertexts");
      const layout = linearLayout(stage.inDim, stage.outDim, S);
      if (layout.p !== period) throw new Error("internal: layout period mismatch");
      const lanes = S / (2 * layout.p);
      const classic = scheduleLinear(stage, layout, level, mode, options.babySteps);
      // Lanes trade the baby rotations for log2(S/p) rotate-and-adds (and as many keys): only where that is fewer
      // rotations (the LM's 128-wide input: 10 instead of 20; a 16-wide one would need 8 instead of 6).
      const laned = index === 0 && mode === "min" && options.babySteps === undefined && lanes >= 2 && layout.outP <= layout.p
        ? scheduleLanes(stage, layout, level) : undefined;
      const lin = laned !== undefined && laned.rotations < classic.rotations ? laned : classic;
      if (lin === laned) inputLanes = lanes;
      schedule.push(lin.schedule);
      lin.steps.forEach((s) => steps.add(s));
      rotations += lin.rotations;
      keySwitches += lin.keySwitches;
      ptMults += lin.ptMults;
      diagonalsTotal += layout.blocks * layout.p;
      diagonalsSkipped += layout.blocks * layout.p - lin.nonzeroDiagonals;
      dim = stage.outDim;
      period = layout.outP;
      blocks = layout.blocks;
      const bias = stage.bias.some((x) => x !== 0) ? lay(stage.bias) : null;
      (lin.schedule as { bias: Float64Array[] | null }).bias = bias;
      level -= 1;
    } else if (stage.kind === "square") {
      schedule.push({ kind: "square", level, shift: stage.shift ? lay(stage.shift) : null });
      ctMults += blocks;
      relin = true;
      level -= 1;
    } else {
      schedule.push({ kind: "affine", level, scale: stage.scale ? lay(stage.scale) : null,
        shift: stage.shift ? lay(stage.shift) : null });
      if (stage.scale) { ptMults += blocks; level -= 1; }
    }
  }
  const N = set.polyModulusDegree;
  const totalPrimes = set.coeffBits.length;
  const dataPrimes = totalPrimes - 1;
  // Uncompressed, unseeded upper bounds (+ slack): real uploads are seeded and zstd-compressed, so about half.
  const ctBytes = (lvl: number): number => 2 * (lvl + 1) * N * 8 + 4096;
  const perKey = dataPrimes * 2 * totalPrimes * N * 8 + 4096;
  const galoisCount = mode === "naive" ? 2 * Math.log2(S) + 1 : steps.size;
  const descriptor: PlanDescriptor = {
    version: 2,
    planId: planIdFor(modelHash, options),
    modelHash,
    options: normalizePlanOptions(options),
    params: set.name,
    rotationKeys: mode,
    inputDim: graph.inputDim,
    inputPeriod: nextPow2(graph.inputDim),
    inputLanes,
    inputLevel: levels,
    outputDim: dim,
    outputBlocks: blocks,
    galoisSteps: mode === "naive" ? [] : [...steps].sort((a, b) => a - b),
    galoisPow2: mode === "naive",
    relin,
    caps: {
      inputCiphertextBytes: ctBytes(levels),
      outputCiphertextBytes: ctBytes(0),
      galoisKeyBytes: galoisCount * perKey + 4096,
      relinKeyBytes: relin ? perKey : 0,
    },
    summary: { levels, rotations, keySwitches, ptMults, ctMults, diagonalsTotal, diagonalsSkipped },
  };
  return { descriptor, set, schedule };
}

/** The client's input in lanes (LaneLinearSchedule): lane ℓ of width S/lanes holds v rotated left by ℓ, period `period`. */
export function laneVector(v: ArrayLike<number>, dim: number, period: number, lanes: number, S: number): Float64Array {
  const width = S / lanes;
  const slots = new Float64Array(S);
  for (let i = 0; i < S; i++) {
    const k = (i % width + Math.floor(i / width)) % period;
    slots[i] = k < dim ? v[k] : 0;
  }
  return slots;
}

/** Vector → slot vectors of the current layout (replicated with `period`, or split into blocks of S). */
export function layoutVector(v: ArrayLike<number>, dim: number, period: number, blocks: number, S: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let b = 0; b < blocks; b++) {
    const slots = new Float64Array(S);
    for (let i = 0; i < S; i++) {
      const k = blocks === 1 ? i % period : b * S + i;
      slots[i] = k < dim ? v[k] : 0;
    }
    out.push(slots);
  }
  return out;
}

function nafWeight(n: number): number {
  let w = 0;
  let x = n;
  while (x > 0) {
    if (x & 1) { w++; x = (x & 3) === 3 ? x + 1 : x - 1; }
    x >>= 1;
  }
  return w;
}

export function scheduleLinear(stage: Extract<Stage, { kind: "linear" }>, layout: LinearLayout, level: number,
  mode: RotationMode, babyOpt: number | undefined) {
  const { p, blocks } = layout;
  let B: number;
  if (mode === "naive") B = p;
  else if (babyOpt !== undefined) {
    if (!Number.isInteger(Math.log2(babyOpt)) || babyOpt < 1) throw new RangeError("babySteps must be a power of two");
    B = Math.min(babyOpt, p);
  } else B = Math.min(p, 2 ** Math.ceil(Math.log2(p) / 2));
  const G = p / B;
  const babySet = new Set<number>();
  let zeroBlocks = 0;
  const blockPlans: LinearSchedule["blocks"] = [];
  let ptMults = 0;
  const scratch = new Float64Array(layout.slots);
  for (let b = 0; b < blocks; b++) {
    const giants: LinearSchedule["blocks"][number]["giants"] = [];
    for (let g = 0; g < G; g++) {
      const terms: { j: number; diag: Float64Array }[] = [];
      for (let j = 0; j < B; j++) {
        const d = g * B + j;
        const diag = diagonal(stage.M, layout, b, d, scratch);
        if (!diag.some((x) => x !== 0)) continue; // squeezed: an all-zero diagonal costs nothing
        // Pre-rotate right by g·B so that rot(Σ_j diag' ⊙ rot(x, j), g·B) = Σ_j diag ⊙ rot(x, g·B + j).
        const pre = new Float64Array(layout.slots);
        const shift = g * B;
        for (let i = 0; i < layout.slots; i++) pre[(i + shift) % layout.slots] = diag[i];
        terms.push({ j, diag: pre });
        babySet.add(j);
        ptMults++;
      }
      if (terms.length > 0) giants.push({ g, terms });
    }
    if (giants.length === 0) {
      // Every diagonal of this output block is zero (e.g. padded or squeezed rows). CKKS cannot produce an
      // encrypted zero without a public key (SEAL refuses transparent results), so multiply the input by a
      // constant 2^-24 instead: one plaintext multiply, error ≤ 6e-8·|x| per slot, far below the scale noise.
      zeroBlocks++;
      giants.push({ g: 0, terms: [{ j: 0, diag: new Float64Array(layout.slots).fill(ZERO_BLOCK_EPSILON) }] });
      babySet.add(0);
      ptMults++;
    }
    blockPlans.push({ giants });
  }
  const babies = [...babySet].sort((a, c) => a - c);
  const steps = new Set<number>();
  let rotations = 0;
  let keySwitches = 0;
  const maxBaby = babies[babies.length - 1] ?? 0;
  if (mode === "min") {
    if (maxBaby > 0) steps.add(1);
    rotations += maxBaby;
    for (const bp of blockPlans) {
      const top = bp.giants[bp.giants.length - 1].g;
      rotations += top;
      if (top > 0) steps.add(B);
    }
    keySwitches = rotations;
  } else {
    for (const j of babies) if (j > 0) { steps.add(j); rotations++; keySwitches += mode === "naive" ? nafWeight(j) : 1; }
    for (const bp of blockPlans) {
      for (const { g } of bp.giants) if (g > 0) { steps.add(g * B); rotations++; keySwitches++; }
    }
  }
  const schedule: LinearSchedule = { kind: "linear", level, layout, B, G, babies, blocks: blockPlans, bias: null };
  return { schedule, steps: [...steps], rotations, keySwitches, ptMults, nonzeroDiagonals: ptMults - zeroBlocks };
}

function scheduleLanes(stage: Extract<Stage, { kind: "linear" }>, layout: LinearLayout, level: number) {
  const { p, slots: S } = layout;
  const width = 2 * p;
  const lanes = S / width;
  const B = Math.min(lanes, p);
  const G = p / B;
  const giants: LaneLinearSchedule["giants"] = [];
  let nonzeroDiagonals = 0;
  const scratch = new Float64Array(S);
  for (let g = 0; g < G; g++) {
    const P = new Float64Array(S);
    let any = false;
    for (let j = 0; j < B; j++) {
      const diag = diagonal(stage.M, layout, 0, g * B + j, scratch);
      if (!diag.some((x) => x !== 0)) continue; // squeezed
      nonzeroDiagonals++;
      any = true;
      // Lane j's first half: rows t < p (the diagonal is periodic in the row, so slot t of lane j means row t).
      for (let t = 0; t < p; t++) P[j * width + t] = diag[t]!;
    }
    if (!any) continue;
    const pre = new Float64Array(S);
    for (let i = 0; i < S; i++) pre[(i + g * B) % S] = P[i]!;
    giants.push({ g, diag: pre });
  }
  if (giants.length === 0) {
    // All diagonals zero: a tiny multiple of the input instead of an encrypted zero (see scheduleLinear).
    const eps = new Float64Array(S);
    for (let t = 0; t < p; t++) eps[t] = ZERO_BLOCK_EPSILON;
    giants.push({ g: 0, diag: eps });
  }
  const sumSteps: number[] = [];
  for (let s = p; s < S; s *= 2) sumSteps.push(s);
  const top = giants[giants.length - 1]!.g;
  const steps = new Set<number>(sumSteps);
  if (top > 0) steps.add(B);
  const rotations = top + sumSteps.length;
  const schedule: LaneLinearSchedule = { kind: "lanes", level, layout, B, lanes, giants, sumSteps, bias: null };
  return { schedule, steps: [...steps], rotations, keySwitches: rotations, ptMults: giants.length, nonzeroDiagonals };
}

export function planSummary(d: PlanDescriptor): PlanSummary {
  return { ...d.summary, params: d.params, galoisSteps: d.galoisSteps, galoisPow2: d.galoisPow2, relin: d.relin };
}

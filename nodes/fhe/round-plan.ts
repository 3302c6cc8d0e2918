import { z } from "zod";
import { sha256Hex } from "../core/sha256.ts";
import { compileGraph, type GraphOp, type RoundGraph, type RoundInput } from "./graph-compiler.ts";
import { linearLayout, nextPow2 } from "./diagonals.ts";
import { InvalidModelError, LevelBudgetError, UnsupportedOpError } from "./errors.ts";
import { PARAM_SET_NAMES, getParamSet, slotCount, type ParamSet } from "./params.ts";
import { modelHashOf, scheduleLinear, type LinearSchedule } from "./plan.ts";

/**
 * Round plans: a RoundGraph (graph-compiler.ts) scheduled on a CKKS parameter set — the level of every register, the
 * BSGS schedule of every matrix, the rotation keys, the layouts of what crosses the wire and the size caps — and the
 * public RoundPlanDescriptor a client needs. Rounds are part of the squeeze: the same model compiles to plans with
 * more rounds (client refreshes, `cuts`) and fewer levels, or fewer rounds and more levels; bench:fhe-tx measures the
 * trade-off and the Brain pins one plan id on-chain.
 *
 * Layouts (S slots, p = nextPow2(width), the cache's W rows × p ≤ S):
 *  - cache: row j of the window in slots [j·p, j·p + p), one ciphertext, stored at the top level;
 *  - query upload: the newest row in its cache block, zero elsewhere (appended by one add, replicated by
 *    rotate-and-add over p, 2p, …, S/2);
 *  - rep: a vector replicated with period nextPow2(dim) (matrix inputs and outputs; tall outputs span blocks of S);
 *  - rowsum (scores): row j's dot product in slot j·p (the query times the cache, then rotate-and-add 1, 2, …, p/2);
 *  - weights: weight a_j in every slot of block j (times the cache, then rotate-and-add p, …, S/2: Σ_j a_j·row_j).
 * Level budget: a matrix, a square and each ciphertext product spend one level; sums mod-switch their terms to the
 * lowest; the cache and every client upload sit at the top level L, so the deepest round decides the parameter set.
 * Scales: every matrix encodes its diagonals at q·Δ/s_in so its output lands at Δ = 2^scaleBits, which is what lets
 * a matrix output and a client register (also Δ) be added; products move the scale (s1·s2/q) and only feed matrices.
 */
export const RoundPlanOptionsSchema = z.object({
  params: z.enum(PARAM_SET_NAMES as [string, ...string[]]).nullable(),
  cuts: z.array(z.string().min(1).max(64)).max(8),
});
export type RoundPlanOptions = z.infer<typeof RoundPlanOptionsSchema>;

export const ROUND_INPUT_KINDS = ["query", "prefill", "softmax", "refresh"] as const;

export const RoundPlanDescriptorSchema = z.object({
  version: z.literal(3),
  kind: z.literal("rounds"),
  planId: z.string().regex(/^[0-9a-f]{64}$/),
  modelHash: z.string().regex(/^[0-9a-f]{64}$/),
  options: RoundPlanOptionsSchema,
  params: z.enum(PARAM_SET_NAMES as [string, ...string[]]),
  width: z.number().int().positive().max(4096),
  window: z.number().int().min(2).max(4096),
  period: z.number().int().positive().max(4096),
  rounds: z.array(z.object({
    /** What the client uploads this round (every upload one ciphertext at `level`, validated like any step input). */
    inputs: z.array(z.object({ kind: z.enum(ROUND_INPUT_KINDS), level: z.number().int().nonnegative(), square: z.boolean(),
      /** Sent only on some steps (the prefill: a session's first step, and whenever the cache window restarts). */
      optional: z.boolean() })).min(1).max(4),
    /** What the miner returns (ciphertexts at level 0). */
    outputs: z.array(z.object({ layout: z.enum(["rowsum", "rep", "blocks"]), dim: z.number().int().positive(), ciphertexts: z.number().int().positive().max(64) })).min(1).max(4),
  })).min(1).max(8),
  galoisSteps: z.array(z.number().int().positive()).max(64),
  relin: z.boolean(),
  caps: z.object({
    inputCiphertextBytes: z.number().int().positive(),
    outputCiphertextBytes: z.number().int().positive(),
    galoisKeyBytes: z.number().int().nonnegative(),
    relinKeyBytes: z.number().int().nonnegative(),
    /** The session's encrypted key/value cache held by the miner (one top-level ciphertext, uncompressed). */
    cacheBytes: z.number().int().positive(),
  }),
  summary: z.object({
    rounds: z.number().int().positive(),
    levels: z.number().int().nonnegative(),
    rotations: z.number().int().nonnegative(),
    ptMults: z.number().int().nonnegative(),
    ctMults: z.number().int().nonnegative(),
    diagonalsTotal: z.number().int().nonnegative(),
    diagonalsSkipped: z.number().int().nonnegative(),
  }),
});
export type RoundPlanDescriptor = z.infer<typeof RoundPlanDescriptorSchema>;

/** A scheduled op: the graph op with its level and (for matrices) the BSGS schedule and target scale. */
export type ScheduledOp =
  | { op: "linear"; dst: number; src: number; level: number; schedule: LinearSchedule; bias: Float64Array[] | null; outBlocks: number }
  | { op: "sum"; dst: number; terms: number[]; level: number; bias: Float64Array | null; period: number }
  | { op: "square"; dst: number; src: number; level: number; shift: Float64Array | null; period: number }
  | { op: "cacheDot"; dst: number; src: number; level: number }
  | { op: "cacheMix"; dst: number; src: number; level: number };

export interface ScheduledRound {
  readonly inputs: (RoundInput & { level: number })[];
  readonly ops: ScheduledOp[];
  readonly outputs: number[];
}

export interface CompiledRoundPlan {
  readonly descriptor: RoundPlanDescriptor;
  readonly set: ParamSet;
  readonly graph: RoundGraph;
  readonly rounds: ScheduledRound[];
  /** Level and replication period of every register; scale class: "delta" (2^scaleBits) or "product". */
  readonly regs: { level: number; period: number; blocks: number; scale: "delta" | "product" }[];
  /** The round and output index of each graph output (e.g. scores, logits). */
  readonly outputs: RoundGraph["outputs"];
}

export function normalizeRoundOptions(o: Partial<RoundPlanOptions> = {}): RoundPlanOptions {
  return { params: o.params ?? null, cuts: [...(o.cuts ?? [])] };
}

/** planId = sha256("cerberus-fhe-rounds-v1" ‖ modelHash ‖ canonical options). */
export function roundPlanIdFor(modelHash: string, options: Partial<RoundPlanOptions>): string {
  return sha256Hex(`cerberus-fhe-rounds-v1\u0000${modelHash.toLowerCase()}\u0000${JSON.stringify(normalizeRoundOptions(options))}`);
}

export function compileRoundPlan(modelBytes: Uint8Array, options: Partial<RoundPlanOptions> = {}): CompiledRoundPlan {
  const opts = normalizeRoundOptions(options);
  const graph = compileGraph(modelBytes, { cuts: opts.cuts });
  // Levels are counted down from L; find the depth first with a symbolic top, then pick the set.
  const depth = scheduleLevels(graph, 1000).depth;
  const set = opts.params !== null ? getParamSet(opts.params) : cheapestSet(depth);
  if (set.levels < depth) throw new LevelBudgetError(depth, `the round plan needs ${depth} levels in one round; ${set.name} gives ${set.levels}`);
  const S = slotCount(set);
  const p = nextPow2(graph.width);
  if (graph.window * p > S) throw new UnsupportedOpError("cache", `a window of ${graph.window} rows × ${p} slots does not fit one ciphertext of ${S} slots`);
  const { levels } = scheduleLevels(graph, set.levels);
  const regs = graph.registers.map((r) => ({ level: levels[r.id]!, period: r.layout === "rep" ? nextPow2(r.dim) : p, blocks: r.dim > S ? Math.ceil(r.dim / S) : 1, scale: "delta" as "delta" | "product" }));
  const steps = new Set<number>();
  for (let s = 1; s < S; s *= 2) steps.add(s); // row sums against the cache (1 … p/2), replication and mixing (p … S/2)
  let rotations = 0, ptMults = 0, ctMults = 0, diagonalsTotal = 0, diagonalsSkipped = 0;
  const rounds: ScheduledRound[] = graph.rounds.map((round) => {
    const ops: ScheduledOp[] = round.ops.map((op) => {
      const lvl = (r: number) => regs[r]!.level;
      switch (op.op) {
        case "linear": {
          const layout = linearLayout(op.inDim, op.outDim, S);
          if (layout.p !== regs[op.src]!.period) throw new UnsupportedOpError("MatMul", `register ${graph.registers[op.src]!.name} has period ${regs[op.src]!.period}, the matrix reads ${layout.p}`);
          const lin = scheduleLinear({ kind: "linear", inDim: op.inDim, outDim: op.outDim, M: op.M, bias: op.bias }, layout, lvl(op.src), "min", undefined);
          lin.steps.forEach((s) => steps.add(s));
          rotations += lin.rotations;
          ptMults += lin.ptMults;
          diagonalsTotal += layout.blocks * layout.p;
          diagonalsSkipped += layout.blocks * layout.p - lin.nonzeroDiagonals;
          regs[op.dst] = { level: lvl(op.src) - 1, period: layout.outP, blocks: layout.blocks, scale: "delta" };
          const bias = op.bias.some((x) => x !== 0) ? layoutVec(op.bias, op.outDim, layout.outP, layout.blocks, S) : null;
          return { op: "linear", dst: op.dst, src: op.src, level: lvl(op.src), schedule: lin.schedule, bias, outBlocks: layout.blocks };
        }
        case "sum": {
          const periods = new Set(op.terms.map((t) => regs[t]!.period));
          if (periods.size !== 1 || op.terms.some((t) => regs[t]!.blocks !== 1)) throw new UnsupportedOpError("Add", `terms of different layouts (${graph.registers[op.dst]!.name})`);
          if (op.terms.some((t) => regs[t]!.scale !== "delta")) throw new UnsupportedOpError("Add", `a product result summed without a matrix after it (${graph.registers[op.dst]!.name})`);
          const period = [...periods][0]!;
          regs[op.dst] = { level: Math.min(...op.terms.map(lvl)), period, blocks: 1, scale: "delta" };
          return { op: "sum", dst: op.dst, terms: op.terms, level: regs[op.dst]!.level, bias: op.bias ? layoutVec(op.bias, op.bias.length, period, 1, S)[0]! : null, period };
        }
        case "square": {
          ctMults++;
          const period = regs[op.src]!.period;
          regs[op.dst] = { level: lvl(op.src) - 1, period, blocks: 1, scale: "product" };
          return { op: "square", dst: op.dst, src: op.src, level: lvl(op.src), shift: op.shift ? layoutVec(op.shift, op.shift.length, period, 1, S)[0]! : null, period };
        }
        case "cacheDot": {
          ctMults++;
          rotations += Math.log2(p);
          if (regs[op.src]!.period !== p) throw new UnsupportedOpError("MatMul", "the query side of the scores must have the cache's period");
          regs[op.dst] = { level: lvl(op.src) - 1, period: p, blocks: 1, scale: "product" };
          return { op: "cacheDot", dst: op.dst, src: op.src, level: lvl(op.src) };
        }
        case "cacheMix": {
          ctMults++;
          rotations += Math.log2(S / p);
          regs[op.dst] = { level: lvl(op.src) - 1, period: p, blocks: 1, scale: "product" };
          return { op: "cacheMix", dst: op.dst, src: op.src, level: lvl(op.src) };
        }
      }
    });
    return { inputs: round.inputs.map((i) => ({ ...i, level: regs[i.reg]!.level })), ops, outputs: round.outputs };
  });
  rotations += Math.log2(S / p); // replicating the query row
  const modelHash = modelHashOf(modelBytes);
  const N = set.polyModulusDegree, totalPrimes = set.coeffBits.length, dataPrimes = totalPrimes - 1;
  const ctBytes = (lvl: number): number => 2 * (lvl + 1) * N * 8 + 4096;
  // A Galois key per step: one key-switching ciphertext (2 polynomials over every prime) per data prime, plus
  // SEAL's headers and the zstd frame's block rounding (measured up to 7 KB per step; 64 KiB allowed: a bound on
  // decompression, not a size estimate).
  const perKey = dataPrimes * 2 * totalPrimes * N * 8 + 65536;
  const descriptor: RoundPlanDescriptor = {
    version: 3, kind: "rounds", planId: roundPlanIdFor(modelHash, opts), modelHash, options: opts, params: set.name,
    width: graph.width, window: graph.window, period: p,
    rounds: rounds.map((r, i) => ({
      inputs: [
        ...(i === 0 ? [{ kind: "prefill" as const, level: set.levels, square: false, optional: true }] : []),
        ...r.inputs.map((x) => ({ kind: x.kind, level: x.level, square: x.kind === "refresh" && x.square !== null, optional: false })),
      ],
      outputs: r.outputs.map((reg) => {
        const info = graph.registers[reg]!;
        return { layout: info.layout === "rowsum" ? "rowsum" as const : regs[reg]!.blocks > 1 || info.layout === "blocks" ? "blocks" as const : "rep" as const,
          dim: info.dim, ciphertexts: regs[reg]!.blocks };
      }),
    })),
    galoisSteps: [...steps].sort((a, b) => a - b),
    relin: ctMults > 0,
    caps: { inputCiphertextBytes: ctBytes(set.levels), outputCiphertextBytes: ctBytes(0), galoisKeyBytes: steps.size * perKey + 4096,
      relinKeyBytes: perKey, cacheBytes: ctBytes(set.levels) },
    summary: { rounds: rounds.length, levels: depth, rotations, ptMults, ctMults, diagonalsTotal, diagonalsSkipped },
  };
  return { descriptor, set, graph, rounds, regs, outputs: graph.outputs };
}

function cheapestSet(depth: number): ParamSet {
  const candidates = PARAM_SET_NAMES.map(getParamSet).filter((s) => s.levels >= depth)
    .sort((a, b) => a.polyModulusDegree - b.polyModulusDegree || a.levels - b.levels);
  if (candidates.length === 0) throw new LevelBudgetError(depth, `the round plan needs ${depth} levels in one round; no parameter set has that many`);
  return candidates[0]!;
}

/**
 * Levels of every register with uploads at `top`, and the depth = the most levels any round spends (so the plan fits
 * a set with at least that many). Throws LevelBudgetError when a register would fall below level 0.
 */
function scheduleLevels(graph: RoundGraph, top: number): { levels: number[]; depth: number } {
  const levels: number[] = new Array(graph.registers.length).fill(Number.NaN);
  let lowest = top;
  const set = (r: number, l: number, what: string) => {
    if (l < 0) throw new LevelBudgetError(top - l, `${what} needs a level below 0 (top ${top})`);
    levels[r] = l;
    lowest = Math.min(lowest, l);
  };
  for (const round of graph.rounds) {
    for (const i of round.inputs) set(i.reg, top, "an upload");
    for (const op of round.ops as GraphOp[]) {
      const l = (r: number) => {
        const v = levels[r]!;
        if (Number.isNaN(v)) throw new InvalidModelError(`register ${graph.registers[r]!.name} used before it is computed`);
        return v;
      };
      const name = graph.registers[op.dst]!.name;
      if (op.op === "sum") set(op.dst, Math.min(...op.terms.map(l)), name);
      else if (op.op === "cacheMix") set(op.dst, Math.min(l(op.src), top) - 1, name);
      else set(op.dst, l(op.src) - 1, name);
    }
  }
  return { levels, depth: top - lowest };
}

/** Vector → slot vectors, replicated with `period` (or in blocks of S). */
export function layoutVec(v: ArrayLike<number>, dim: number, period: number, blocks: number, S: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let b = 0; b < blocks; b++) {
    const slots = new Float64Array(S);
    for (let i = 0; i < S; i++) {
      const k = blocks === 1 ? i % period : b * S + i;
      slots[i] = k < dim ? v[k]! : 0;
    }
    out.push(slots);
  }
  return out;
}

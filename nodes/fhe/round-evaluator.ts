import type { CipherText } from "node-seal/implementation/cipher-text.js";
import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import type { GaloisKeys } from "node-seal/implementation/galois-keys.js";
import type { PlainText } from "node-seal/implementation/plain-text.js";
import type { RelinKeys } from "node-seal/implementation/relin-keys.js";
import { createLogger } from "../core/log.ts";
import type { LinearPts } from "./encoded-stages.ts";
import { CiphertextInvalidError, ClosedError, KeysInvalidError, PlanDescriptorError, ShapeError } from "./errors.ts";
import { FheError } from "./errors.ts";
import { compileRoundPlan, type CompiledRoundPlan, type RoundPlanDescriptor, type RoundPlanOptions, type ScheduledOp } from "./round-plan.ts";
import { COMPR_ZSTD, guardedLoad, unwrapSeal, wrapSeal } from "./serialize.ts";
import { galoisElt, getContext, globalPool, loadSeal, type FheContext, type PoolHandle, type PublicSeal } from "./seal.ts";
import { StageCircuits } from "./stage-circuits.ts";
import type { SessionKeys } from "./evaluator.ts";

/** A round arrived out of order (a step's rounds run 0, 1, …, R−1, then the next step starts at 0). */
export class RoundOrderError extends FheError {
  constructor(message: string) { super("FHE_ROUND_ORDER", message); }
}

/** A session of a round plan: one call per round; the miner keeps the key/value cache and the step's registers. */
export interface RoundSession {
  evaluateRound(round: number, inputs: Uint8Array[]): Promise<Uint8Array[]>;
  evaluate(inputs: Uint8Array[], options?: { round?: number }): Promise<Uint8Array[]>;
  /** Bytes of WASM memory this session holds besides its keys: the cache and the registers kept between rounds. */
  readonly stateBytes: number;
  readonly nextRound: number;
  close(): void;
  readonly closed: boolean;
}

let logger: ReturnType<typeof createLogger> | undefined;
const log = () => (logger ??= createLogger("fhe-rounds"));

type EncodedOp =
  | { op: "linear"; dst: number; src: number; pts: LinearPts }
  | { op: "sum"; dst: number; terms: number[]; level: number; bias: PlainText | null }
  | { op: "square"; dst: number; src: number; shift: PlainText | null }
  | { op: "cacheDot"; dst: number; src: number; level: number }
  | { op: "cacheMix"; dst: number; src: number; level: number };

/**
 * The miner's engine for round plans (round-plan.ts): encodes the plan's matrices once, and runs each round of a
 * session on its registers. Like MinerEvaluator it only sees `PublicSeal` (no secret key, by type). A session holds
 * the client's keys, its encrypted key/value cache (the window's rows, one ciphertext at the top level) and the
 * registers one round leaves for the next (e.g. the query row); the cache is replaced when the client sends a prefill
 * (a session's first step, and whenever its window restarts) and everything goes with the session.
 *
 * Scales: uploads arrive at Δ = 2^scaleBits; every matrix's diagonals are encoded at q_ℓ·Δ/s_in, so its output's
 * scale is Δ again (up to double rounding, which is snapped back to Δ exactly so sums of registers are legal); the
 * products (square, the cache products) leave s1·s2/q and feed only matrices (the plan checks it).
 */
export class RoundEvaluator {
  readonly planId: string;
  readonly descriptor: RoundPlanDescriptor;
  readonly plan: CompiledRoundPlan;
  readonly memory: { plaintexts: number; plaintextBytes: number };
  private readonly seal: PublicSeal;
  private readonly fc: FheContext;
  private readonly evaluator: Evaluator;
  private readonly encoder: CKKSEncoder;
  private readonly pool: PoolHandle;
  private readonly circuits: StageCircuits;
  private readonly ops: EncodedOp[][];
  private readonly owned: PlainText[] = [];
  private readonly sessions = new Set<Session>();
  private disposed = false;
  readonly delta: number;

  private constructor(seal: PublicSeal, plan: CompiledRoundPlan) {
    this.seal = seal;
    this.plan = plan;
    this.descriptor = plan.descriptor;
    this.planId = plan.descriptor.planId;
    this.fc = getContext(seal, plan.set);
    this.pool = globalPool(seal);
    this.evaluator = seal.Evaluator(this.fc.context);
    this.encoder = seal.CKKSEncoder(this.fc.context);
    this.circuits = new StageCircuits(seal, this.evaluator, this.pool);
    this.delta = 2 ** plan.set.scaleBits;
    try {
      this.ops = this.encode();
    } catch (err) {
      this.owned.forEach((pt) => pt.delete());
      this.evaluator.delete();
      this.encoder.delete();
      throw err;
    }
    this.memory = { plaintexts: this.owned.length, plaintextBytes: this.owned.reduce((a, pt) => a + pt.coeffCount * 8, 0) };
  }

  static async create(modelBytes: Uint8Array, options: Partial<RoundPlanOptions> = {}): Promise<RoundEvaluator> {
    const plan = compileRoundPlan(modelBytes, options);
    const seal: PublicSeal = await loadSeal();
    const t0 = performance.now();
    const ev = new RoundEvaluator(seal, plan);
    log().info({ planId: ev.planId, ...plan.descriptor.summary, params: plan.set.name, galoisSteps: plan.descriptor.galoisSteps.length,
      plaintextMiB: +(ev.memory.plaintextBytes / 2 ** 20).toFixed(1), encodeMs: Math.round(performance.now() - t0) }, "FHE round plan compiled");
    return ev;
  }

  private enc(v: Float64Array, scale: number, level: number): PlainText {
    const pt = this.seal.PlainText({ pool: this.pool });
    this.owned.push(pt);
    this.encoder.encode(v, scale, pt, this.pool);
    if (level < this.fc.parmsIds.length - 1) this.evaluator.plainModSwitchTo(pt, this.fc.parmsIds[level]!, pt);
    return pt;
  }

  /** Mirrors SEAL's scale arithmetic per register (doubles, as SEAL computes them) and encodes every plaintext. */
  private encode(): EncodedOp[][] {
    const scale = new Map<number, number>();
    const D = this.delta;
    const q = (level: number) => this.fc.primeAt[level]!;
    return this.plan.rounds.map((round) => {
      for (const i of round.inputs) scale.set(i.reg, D);
      return round.ops.map((op: ScheduledOp): EncodedOp => {
        const s = (r: number) => {
          const v = scale.get(r);
          if (v === undefined) throw new Error(`internal: register ${r} has no scale`);
          return v;
        };
        switch (op.op) {
          case "linear": {
            const ptScale = (q(op.level) * D) / s(op.src);
            const blocks = op.schedule.blocks.map((bp) => ({
              giants: bp.giants.map(({ g, terms }) => ({ g, terms: terms.map(({ j, diag }) => ({ j, pt: this.enc(diag, ptScale, op.level) })) })),
            }));
            scale.set(op.dst, D);
            const bias = op.bias ? op.bias.map((v) => this.enc(v, D, op.level - 1)) : null;
            return { op: "linear", dst: op.dst, src: op.src, pts: { kind: "linear", level: op.level, B: op.schedule.B, chained: true, horner: true, babies: op.schedule.babies, blocks, bias } };
          }
          case "sum": {
            scale.set(op.dst, D);
            return { op: "sum", dst: op.dst, terms: op.terms, level: op.level, bias: op.bias ? this.enc(op.bias, D, op.level) : null };
          }
          case "square": {
            const shift = op.shift ? this.enc(op.shift, s(op.src), op.level) : null;
            scale.set(op.dst, (s(op.src) * s(op.src)) / q(op.level));
            return { op: "square", dst: op.dst, src: op.src, shift };
          }
          case "cacheDot":
          case "cacheMix": {
            scale.set(op.dst, (s(op.src) * D) / q(op.level));
            return { op: op.op, dst: op.dst, src: op.src, level: op.level };
          }
        }
      });
    });
  }

  async openSession(keys: SessionKeys): Promise<RoundSession> {
    if (this.disposed) throw new ClosedError("evaluator");
    if (keys.planId !== this.planId) {
      throw new PlanDescriptorError(`keys are for plan ${String(keys.planId).slice(0, 16)}…, this is ${this.planId.slice(0, 16)}…`);
    }
    const d = this.descriptor;
    const { seal, fc } = this;
    const gk = seal.GaloisKeys();
    let rk: RelinKeys | null = null;
    try {
      const body = unwrapSeal("galois keys", keys.galoisKeys, d.caps.galoisKeyBytes, COMPR_ZSTD);
      guardedLoad("galois keys", () => gk.loadArray(fc.context, body));
      for (const step of d.galoisSteps) {
        if (!gk.hasKey(galoisElt(step, fc.set.polyModulusDegree))) throw new KeysInvalidError(`galois keys lack rotation step ${step}`);
      }
      if (d.relin) {
        const rbody = unwrapSeal("relin keys", keys.relinKeys, d.caps.relinKeyBytes, COMPR_ZSTD);
        rk = seal.RelinKeys();
        const loaded = rk;
        guardedLoad("relin keys", () => loaded.loadArray(fc.context, rbody));
        if (!loaded.hasKey(2)) throw new KeysInvalidError("relin keys lack the key for ciphertext size 3");
      }
    } catch (err) {
      gk.delete();
      rk?.delete();
      throw err;
    }
    const session = new Session(this, gk, rk, () => this.sessions.delete(session));
    this.sessions.add(session);
    return session;
  }

  get openSessions(): number { return this.sessions.size; }
  /** Evaluations at once: one (single-threaded WASM on the calling thread). */
  readonly parallelism = 1;

  /** Bytes of every open session's cache and kept registers (what the sessions hold besides their keys). */
  get sessionStateBytes(): number {
    let b = 0;
    for (const s of this.sessions) b += s.stateBytes;
    return b;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.close();
    this.owned.forEach((pt) => pt.delete());
    this.evaluator.delete();
    this.encoder.delete();
    this.disposed = true;
  }

  /** @internal One round on a session's state (synchronous WASM work; temporaries freed on every path). */
  runRound(state: SessionState, round: number, inputs: Uint8Array[], gk: GaloisKeys, rk: RelinKeys | null): Uint8Array[] {
    if (this.disposed) throw new ClosedError("evaluator");
    const d = this.descriptor;
    const plan = this.plan.rounds[round];
    if (plan === undefined) throw new RoundOrderError(`round ${round} does not exist (the plan has ${d.rounds.length})`);
    if (round !== state.next) throw new RoundOrderError(`round ${round} arrived, round ${state.next} was expected`);
    const ev = this.evaluator, pool = this.pool, seal = this.seal;
    const fresh: CipherText[] = [];
    const own = (c: CipherText) => { fresh.push(c); return c; };
    const S = this.fc.slots, p = d.period;
    try {
      // Inputs: round 0 takes [prefill?, query]; later rounds one upload per input.
      const expected = plan.inputs.length + (round === 0 ? 1 : 0);
      if (!Array.isArray(inputs) || inputs.length < plan.inputs.length || inputs.length > expected) {
        throw new ShapeError(`round ${round} takes ${round === 0 ? "1 or 2" : plan.inputs.length} ciphertexts, got ${Array.isArray(inputs) ? inputs.length : "none"}`);
      }
      let k = 0;
      if (round === 0) {
        if (inputs.length === 2) {
          const prefill = this.load(inputs[k++]!, this.fc.set.levels);
          state.cache?.delete();
          state.cache = prefill;
        } else if (state.cache === null) throw new RoundOrderError("a session's first step must carry the prefill");
      }
      for (const i of plan.inputs) {
        const ct = own(this.load(inputs[k++]!, i.level));
        if (i.kind === "query") {
          // Append to the cache (the row sits in its block, zero elsewhere), then replicate it for the matrices.
          ev.add(state.cache!, ct, state.cache!);
          const tmp = own(seal.CipherText({ pool }));
          for (let s = p; s < S; s *= 2) { ev.rotateVector(ct, s, gk, tmp, pool); ev.add(ct, tmp, ct); }
        }
        state.set(i.reg, ct);
        fresh.splice(fresh.indexOf(ct), 1);
      }
      // Baby-step rotations per input register, shared by the round's matrices that read it (freed with `fresh`).
      const babies = new Map<number, Map<number, CipherText>>();
      for (const op of this.ops[round]!) this.runOp(op, state, gk, rk, own, babies);
      for (const m of babies.values()) for (const [j, c] of m) if (j !== 0) fresh.push(c);
      const outs = plan.outputs.map((reg) => state.take(reg));
      // What the next round still reads stays in the state; everything else of this step is dropped at its end.
      const outBytes: Uint8Array[] = [];
      for (const o of outs) for (const c of o) outBytes.push(this.saveOutput(c));
      outs.forEach((o) => o.forEach((c) => c.delete()));
      state.next = round + 1 === d.rounds.length ? 0 : round + 1;
      if (state.next === 0) state.clearStep();
      return outBytes;
    } catch (err) {
      // A failed round leaves the word unusable and maybe the cache too (round 0 may have appended its row): both
      // go, and the session's next word must start at round 0 with a prefill.
      state.clearStep();
      state.cache?.delete();
      state.cache = null;
      state.next = 0;
      throw err;
    } finally {
      fresh.forEach((c) => c.delete());
    }
  }

  private runOp(op: EncodedOp, state: SessionState, gk: GaloisKeys, rk: RelinKeys | null, own: (c: CipherText) => CipherText,
    babies: Map<number, Map<number, CipherText>>): void {
    const ev = this.evaluator, pool = this.pool, seal = this.seal;
    const S = this.fc.slots, p = this.descriptor.period;
    const at = (c: CipherText, level: number): CipherText => {
      if (levelOf(c) === level) return c;
      const m = own(seal.CipherText({ pool }));
      ev.cipherModSwitchTo(c, this.fc.parmsIds[level]!, m, pool);
      return m;
    };
    switch (op.op) {
      case "linear": {
        const x = state.one(op.src);
        let shared = babies.get(op.src);
        if (shared === undefined) babies.set(op.src, (shared = new Map()));
        const outs = this.circuits.runLinear(op.pts, x, gk, [0, op.pts.blocks.length], shared);
        for (const c of outs) snapScale(c, this.delta);
        state.setAll(op.dst, outs);
        return;
      }
      case "sum": {
        const acc = seal.CipherText({ pool });
        try {
          ev.cipherModSwitchTo(state.one(op.terms[0]!), this.fc.parmsIds[op.level]!, acc, pool);
          for (const t of op.terms.slice(1)) ev.add(acc, at(state.one(t), op.level), acc);
          if (op.bias) ev.addPlain(acc, alignScale(op.bias, acc), acc);
        } catch (err) { acc.delete(); throw err; }
        state.set(op.dst, acc);
        return;
      }
      case "square": {
        const y = seal.CipherText({ pool });
        try {
          const x = state.one(op.src);
          if (op.shift) { ev.addPlain(x, alignScale(op.shift, x), y); ev.square(y, y, pool); } else ev.square(x, y, pool);
          ev.relinearize(y, rk!, y, pool);
          ev.rescaleToNext(y, y, pool);
        } catch (err) { y.delete(); throw err; }
        state.set(op.dst, y);
        return;
      }
      case "cacheDot":
      case "cacheMix": {
        const y = seal.CipherText({ pool });
        try {
          const x = state.one(op.src);
          ev.multiply(x, at(state.cache!, op.level), y, pool);
          ev.relinearize(y, rk!, y, pool);
          ev.rescaleToNext(y, y, pool);
          const tmp = own(seal.CipherText({ pool }));
          // cacheDot: sum each row's p products into its first slot; cacheMix: sum the rows into every block.
          const [from, to] = op.op === "cacheDot" ? [1, p] : [p, S];
          for (let s = from; s < to; s *= 2) { ev.rotateVector(y, s, gk, tmp, pool); ev.add(y, tmp, y); }
        } catch (err) { y.delete(); throw err; }
        state.set(op.dst, y);
        return;
      }
    }
  }

  private load(bytes: Uint8Array, level: number): CipherText {
    const d = this.descriptor;
    const body = unwrapSeal("ciphertext", bytes, d.caps.inputCiphertextBytes, COMPR_ZSTD);
    const ct = this.seal.CipherText({ pool: this.pool });
    try {
      guardedLoad("ciphertext", () => ct.loadArray(this.fc.context, body));
      if (levelOf(ct) !== level) throw new CiphertextInvalidError(`input ciphertext is at level ${levelOf(ct)}, the round wants ${level}`);
      if (ct.size !== 2) throw new CiphertextInvalidError(`input ciphertext has size ${ct.size}, expected 2`);
      if (Math.abs(ct.scale / this.delta - 1) > 1e-9) throw new CiphertextInvalidError(`input scale ${ct.scale} differs from the plan's 2^${this.fc.set.scaleBits}`);
      return ct;
    } catch (err) {
      ct.delete();
      throw err;
    }
  }

  private saveOutput(ct: CipherText): Uint8Array {
    if (levelOf(ct) !== 0) this.evaluator.cipherModSwitchTo(ct, this.fc.parmsIds[0]!, ct, this.pool);
    return wrapSeal("ciphertext", ct.saveArray(this.seal.ComprModeType.zstd));
  }
}

/** A session's ciphertexts: the cache (kept across words) and the registers of the step in progress. */
class SessionState {
  cache: CipherText | null = null;
  next = 0;
  private readonly regs = new Map<number, CipherText[]>();

  set(reg: number, c: CipherText): void { this.setAll(reg, [c]); }
  setAll(reg: number, cs: CipherText[]): void {
    this.regs.get(reg)?.forEach((x) => x.delete());
    this.regs.set(reg, cs);
  }
  one(reg: number): CipherText {
    const c = this.regs.get(reg);
    if (c === undefined || c.length !== 1) throw new Error(`internal: register ${reg} is not computed`);
    return c[0]!;
  }
  /** Removes a register and hands its ciphertexts to the caller (a round's output). */
  take(reg: number): CipherText[] {
    const c = this.regs.get(reg);
    if (c === undefined) throw new Error(`internal: register ${reg} is not computed`);
    this.regs.delete(reg);
    return c;
  }
  clearStep(): void {
    for (const cs of this.regs.values()) cs.forEach((c) => c.delete());
    this.regs.clear();
  }
  get bytes(): number {
    let b = 0;
    const size = (c: CipherText) => c.size * c.polyModulusDegree * c.coeffModulusSize * 8;
    if (this.cache) b += size(this.cache);
    for (const cs of this.regs.values()) for (const c of cs) b += size(c);
    return b;
  }
  dispose(): void {
    this.clearStep();
    this.cache?.delete();
    this.cache = null;
  }
}

class Session implements RoundSession {
  private gk: GaloisKeys | null;
  private rk: RelinKeys | null;
  private readonly state: SessionState;
  constructor(private readonly owner: RoundEvaluator, gk: GaloisKeys, rk: RelinKeys | null, private readonly onClose: () => void) {
    this.gk = gk;
    this.rk = rk;
    this.state = new SessionState();
  }
  get closed(): boolean { return this.gk === null; }
  get stateBytes(): number { return this.state.bytes; }
  get nextRound(): number { return this.state.next; }
  async evaluateRound(round: number, inputs: Uint8Array[]): Promise<Uint8Array[]> {
    if (!this.gk) throw new ClosedError("session");
    return this.owner.runRound(this.state, round, inputs, this.gk, this.rk);
  }
  /** The miner service's entry (net/evaluator.ts EvalSession): the round from the step header, 0 if absent. */
  evaluate(inputs: Uint8Array[], options?: { round?: number }): Promise<Uint8Array[]> {
    return this.evaluateRound(options?.round ?? 0, inputs);
  }
  close(): void {
    if (!this.gk) return;
    this.gk.delete();
    this.rk?.delete();
    this.state.dispose();
    this.gk = null;
    this.rk = null;
    this.onClose();
  }
}

function levelOf(ct: CipherText): number {
  return ct.coeffModulusSize - 1;
}

/** A matrix's output lands at Δ up to double rounding in SEAL's scale arithmetic; snap it so registers add. */
function snapScale(ct: CipherText, delta: number): void {
  const s = ct.scale;
  if (Math.abs(s / delta - 1) > 1e-9) throw new Error(`internal: matrix output scale ${s} is not Δ = ${delta}`);
  if (s !== delta) ct.setScale(delta);
}

function alignScale(pt: PlainText, ct: CipherText): PlainText {
  if (pt.scale !== ct.scale) pt.setScale(ct.scale);
  return pt;
}

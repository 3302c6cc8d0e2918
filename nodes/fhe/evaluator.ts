import type { CipherText } from "node-seal/implementation/cipher-text.js";
import type { GaloisKeys } from "node-seal/implementation/galois-keys.js";
import type { PlainText } from "node-seal/implementation/plain-text.js";
import type { RelinKeys } from "node-seal/implementation/relin-keys.js";
import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import { createLogger } from "../core/log.ts";
import { encodeStages, forEachPt, type LinearPts, type StagePts } from "./encoded-stages.ts";
import { StageCircuits } from "./stage-circuits.ts";
import { CiphertextInvalidError, ClosedError, KeysInvalidError, PlanDescriptorError, ShapeError } from "./errors.ts";
import type { SplitChannel, SplitRole } from "./split-channel.ts";
import { compilePlan, planSummary, type CompiledPlan, type PlanDescriptor, type PlanOptions, type PlanSummary } from "./plan.ts";
import { COMPR_ZSTD, guardedLoad, unwrapSeal, wrapSeal } from "./serialize.ts";
import { galoisElt, getContext, globalPool, loadSeal, type FheContext, type PoolHandle, type PublicSeal } from "./seal.ts";

/**
 * The miner's FHE engine: compiles a model's plan, checks each session's keys against it, and runs a step (whole, or
 * split over two workers) through the stage circuits (stage-circuits.ts) on the plan's encoded weights
 * (encoded-stages.ts). This module only ever sees `PublicSeal` (SEAL without Decryptor/KeyGenerator/SecretKey), so it
 * cannot decrypt — by type. It owns the encoded plaintexts (cached for the evaluator's life) and, per session, the
 * client's evaluation keys; every WASM object it creates is deleted by its owner.
 */
export interface SessionKeys {
  readonly planId: string;
  readonly galoisKeys: Uint8Array;
  /** Empty when the plan has no ciphertext × ciphertext multiply. */
  readonly relinKeys: Uint8Array;
}

export interface EvalSession {
  /** Ciphertexts in (the plan's input layout), ciphertexts out (mod-switched to the last level, zstd). */
  evaluate(inputs: Uint8Array[]): Promise<Uint8Array[]>;
  /** One half of a step split over two workers (only MinerEvaluator's sessions; see `runSplit`). */
  evaluateSplit?(role: SplitRole, inputs: Uint8Array[], ch: SplitChannel): Uint8Array[];
  close(): void;
  readonly closed: boolean;
}

export interface EvaluatorMemory {
  /** Cached encoded plaintexts (diagonals, biases), in bytes of SEAL polynomial data. */
  readonly plaintextBytes: number;
  readonly plaintexts: number;
}

// Created on first use so that CERBERUS_LOG_LEVEL set by an entry point after imports still applies.
let logger: ReturnType<typeof createLogger> | undefined;
const log = () => (logger ??= createLogger("fhe-miner"));

export class MinerEvaluator {
  readonly planId: string;
  readonly descriptor: PlanDescriptor;
  readonly planSummary: PlanSummary;
  readonly memory: EvaluatorMemory;
  private readonly seal: PublicSeal;
  private readonly fc: FheContext;
  private readonly evaluator: Evaluator;
  private readonly encoder: CKKSEncoder;
  private readonly pool: PoolHandle;
  private readonly stages: StagePts[];
  private readonly circuits: StageCircuits;
  private readonly sessions = new Set<Session>();
  private disposed = false;

  private constructor(seal: PublicSeal, plan: CompiledPlan) {
    this.seal = seal;
    this.descriptor = plan.descriptor;
    this.planId = plan.descriptor.planId;
    this.planSummary = planSummary(plan.descriptor);
    this.fc = getContext(seal, plan.set);
    this.pool = globalPool(seal);
    this.evaluator = seal.Evaluator(this.fc.context);
    this.encoder = seal.CKKSEncoder(this.fc.context);
    this.circuits = new StageCircuits(seal, this.evaluator, this.pool);
    let count = 0;
    let bytes = 0;
    const track = (pt: PlainText): PlainText => { count++; bytes += pt.coeffCount * 8; return pt; };
    try {
      this.stages = encodeStages({ seal, fc: this.fc, encoder: this.encoder, evaluator: this.evaluator, pool: this.pool }, plan.schedule, plan.descriptor.rotationKeys, track);
    } catch (err) {
      this.evaluator.delete();
      this.encoder.delete();
      throw err;
    }
    this.memory = { plaintexts: count, plaintextBytes: bytes };
  }

  /** Compiles the ONNX model and encodes its weights once. Throws typed FheErrors for unsupported models. */
  static async create(modelBytes: Uint8Array, options: PlanOptions = {}): Promise<MinerEvaluator> {
    const plan = compilePlan(modelBytes, options);
    const seal: PublicSeal = await loadSeal();
    const t0 = performance.now();
    const ev = new MinerEvaluator(seal, plan);
    log().info({ planId: ev.planId, ...ev.planSummary, galoisSteps: ev.planSummary.galoisSteps.length,
      plaintextMiB: +(ev.memory.plaintextBytes / 2 ** 20).toFixed(1), encodeMs: Math.round(performance.now() - t0) },
    "FHE plan compiled");
    return ev;
  }

  /** Validates the client's keys against this plan and context; the session owns (and deletes) them. */
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    if (this.disposed) throw new ClosedError("evaluator");
    if (keys.planId !== this.planId) {
      throw new PlanDescriptorError(`keys are for plan ${String(keys.planId).slice(0, 16)}…, this is ${this.planId.slice(0, 16)}…`);
    }
    const d = this.descriptor;
    const { seal, fc } = this;
    const gk = seal.GaloisKeys();
    let rk: RelinKeys | null = null;
    try {
      if (d.galoisSteps.length > 0 || d.galoisPow2) {
        const body = unwrapSeal("galois keys", keys.galoisKeys, d.caps.galoisKeyBytes, COMPR_ZSTD);
        guardedLoad("galois keys", () => gk.loadArray(fc.context, body));
        const N = fc.set.polyModulusDegree;
        const needed = d.galoisPow2 ? powersOfTwo(fc.slots) : d.galoisSteps;
        for (const step of needed) {
          if (!gk.hasKey(galoisElt(step, N))) throw new KeysInvalidError(`galois keys lack rotation step ${step}`);
        }
      }
      if (d.relin) {
        const body = unwrapSeal("relin keys", keys.relinKeys, d.caps.relinKeyBytes, COMPR_ZSTD);
        rk = seal.RelinKeys();
        const loaded = rk;
        guardedLoad("relin keys", () => loaded.loadArray(fc.context, body));
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

  /** Number of sessions still open (their keys are in WASM memory). */
  get openSessions(): number { return this.sessions.size; }

  /**
   * Whether `runSplit` can run: a last linear stage with ≥ 2 output blocks (the LM's vocabulary), on the single
   * ciphertext the stages before it leave.
   */
  get splittable(): boolean {
    const last = this.stages[this.stages.length - 1];
    return this.stages.length >= 2 && last?.kind === "linear" && last.blocks.length >= 2;
  }

  /**
   * One half of a step split over two workers (worker-pool.ts), synchronous like `run`. `lead` runs every stage but
   * the last (the lane-packed first stage, the square: ≈ a quarter of the work) and sends the hidden vector to
   * `help`; for a lane-packed first stage `help` loads the input and streams the giant steps' products meanwhile, so
   * `lead` only rotates. Both then run the last linear stage, its baby rotations once each, on half of the output
   * blocks: `lead` the first ⌈n/2⌉, `help` the rest. Same keys, operations and summation order as `run` (a
   * ciphertext saved and loaded is the same ciphertext): the outputs are the ones `run` gives, byte for byte.
   */
  runSplit(role: SplitRole, inputs: Uint8Array[], gk: GaloisKeys, rk: RelinKeys | null, ch: SplitChannel): Uint8Array[] {
    if (this.disposed) throw new ClosedError("evaluator");
    if (!this.splittable) throw new PlanDescriptorError("this plan's shape cannot be split over workers");
    const input = onlyInput(inputs);
    const last = this.stages[this.stages.length - 1] as LinearPts;
    const seal = this.seal;
    const live: CipherText[] = [];
    const own = (c: CipherText): CipherText => { live.push(c); return c; };
    const receive = (): CipherText => {
      const c = seal.CipherText({ pool: this.pool });
      c.loadArray(this.fc.context, ch.receive());
      return c;
    };
    const first = this.stages[0]!;
    try {
      let h: CipherText;
      if (role === "lead") {
        let vec: CipherText[];
        let rest = this.stages.slice(0, -1);
        if (first.kind === "lanes") {
          // `help` loads the input and makes the lane products; this worker runs the rotations as they arrive.
          vec = [own(this.circuits.runLanes(first, receive, gk))];
          rest = rest.slice(1);
        } else vec = [own(this.loadInput(input))];
        for (const st of rest) {
          vec = this.circuits.run(st, vec, gk, rk);
          vec.forEach(own);
        }
        h = vec[0]!;
        ch.send(h.saveArray(seal.ComprModeType.none));
      } else {
        if (first.kind === "lanes") {
          const z = own(this.loadInput(input));
          for (let gi = first.giants.length - 1; gi >= 0; gi--) {
            const c = this.circuits.laneProduct(z, first.giants[gi]!.pt);
            try { ch.send(c.saveArray(seal.ComprModeType.none)); } finally { c.delete(); }
          }
        }
        h = own(receive());
      }
      const half = Math.ceil(last.blocks.length / 2);
      const outs = this.circuits.runLinear(last, h, gk, role === "lead" ? [0, half] : [half, last.blocks.length]);
      outs.forEach(own);
      return outs.map((ct) => this.saveOutput(ct));
    } finally {
      live.forEach((c) => c.delete());
    }
  }

  /** Closes every session and frees the cached plaintexts. */
  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sessions]) s.close();
    for (const st of this.stages) forEachPt(st, (pt) => pt.delete());
    this.evaluator.delete();
    this.encoder.delete();
    this.disposed = true;
  }

  /** @internal one evaluation; synchronous WASM work, temporaries freed on every path. */
  run(inputs: Uint8Array[], gk: GaloisKeys, rk: RelinKeys | null): Uint8Array[] {
    if (this.disposed) throw new ClosedError("evaluator");
    let vec: CipherText[] = [this.loadInput(onlyInput(inputs))];
    try {
      for (const st of this.stages) {
        const next = this.circuits.run(st, vec, gk, rk);
        vec.forEach((c) => c.delete());
        vec = next;
      }
      return vec.map((ct) => this.saveOutput(ct));
    } finally {
      vec.forEach((c) => c.delete());
    }
  }

  /** An output ciphertext, at the last level (the least bytes), zstd. */
  private saveOutput(ct: CipherText): Uint8Array {
    if (levelOf(ct) !== 0) this.evaluator.cipherModSwitchTo(ct, this.fc.parmsIds[0], ct, this.pool);
    return wrapSeal("ciphertext", ct.saveArray(this.seal.ComprModeType.zstd));
  }

  private loadInput(bytes: Uint8Array): CipherText {
    const d = this.descriptor;
    const body = unwrapSeal("ciphertext", bytes, d.caps.inputCiphertextBytes, COMPR_ZSTD);
    const ct = this.seal.CipherText({ pool: this.pool });
    try {
      guardedLoad("ciphertext", () => ct.loadArray(this.fc.context, body));
      if (levelOf(ct) !== d.inputLevel) {
        throw new CiphertextInvalidError(`input ciphertext is not at the plan's level ${d.inputLevel} of ${d.params}`);
      }
      if (ct.size !== 2) throw new CiphertextInvalidError(`input ciphertext has size ${ct.size}, expected 2`);
      const want = 2 ** this.fc.set.scaleBits;
      if (Math.abs(ct.scale / want - 1) > 1e-9) {
        throw new CiphertextInvalidError(`input scale ${ct.scale} differs from the plan's 2^${this.fc.set.scaleBits}`);
      }
      return ct;
    } catch (err) {
      ct.delete();
      throw err;
    }
  }

}

class Session implements EvalSession {
  private gk: GaloisKeys | null;
  private rk: RelinKeys | null;
  constructor(private readonly owner: MinerEvaluator, gk: GaloisKeys, rk: RelinKeys | null,
    private readonly onClose: () => void) {
    this.gk = gk;
    this.rk = rk;
  }
  get closed(): boolean { return this.gk === null; }
  async evaluate(inputs: Uint8Array[]): Promise<Uint8Array[]> {
    if (!this.gk) throw new ClosedError("session");
    return this.owner.run(inputs, this.gk, this.rk);
  }
  /** This worker's half of a split step (MinerEvaluator.runSplit). */
  evaluateSplit(role: SplitRole, inputs: Uint8Array[], ch: SplitChannel): Uint8Array[] {
    if (!this.gk) throw new ClosedError("session");
    return this.owner.runSplit(role, inputs, this.gk, this.rk, ch);
  }
  close(): void {
    if (!this.gk) return;
    this.gk.delete();
    this.rk?.delete();
    this.gk = null;
    this.rk = null;
    this.onClose();
  }
}

/** The step's one input ciphertext (every plan takes one: the client packs the whole input vector in it). */
function onlyInput(inputs: Uint8Array[]): Uint8Array {
  if (!Array.isArray(inputs) || inputs.length !== 1) {
    throw new ShapeError(`plan takes 1 input ciphertext, got ${Array.isArray(inputs) ? inputs.length : "none"}`);
  }
  return inputs[0]!;
}

/**
 * Chain index of a ciphertext loaded into our context. SEAL's loader already refuses parms ids outside the context's
 * chain, so the number of primes identifies the level; reading it avoids node-seal's `parmsId` getter, which leaks
 * the temporary it copies from (32 bytes of WASM heap per call — it adds up over a miner's lifetime).
 */
function levelOf(ct: CipherText): number {
  return ct.coeffModulusSize - 1;
}

function powersOfTwo(slots: number): number[] {
  const out: number[] = [];
  for (let s = 1; s < slots; s *= 2) out.push(s);
  return out;
}

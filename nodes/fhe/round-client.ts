import type { SEALLibrary } from "node-seal/implementation/seal.js";
import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
import type { Decryptor } from "node-seal/implementation/decryptor.js";
import type { Encryptor } from "node-seal/implementation/encryptor.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import type { KeyGenerator } from "node-seal/implementation/key-generator.js";
import { CiphertextInvalidError, ClosedError, PlanDescriptorError, ShapeError } from "./errors.ts";
import type { KeygenResult } from "./client.ts";
import { getParamSet } from "./params.ts";
import { RoundPlanDescriptorSchema, roundPlanIdFor, type CompiledRoundPlan, type RoundPlanDescriptor } from "./round-plan.ts";
import { COMPR_ZSTD, guardedLoad, unwrapSeal, wrapSeal } from "./serialize.ts";
import { getContext, globalPool, loadSeal, type FheContext, type PoolHandle } from "./seal.ts";

/**
 * Client side of a round plan: the secret key, the uploads of each round in the plan's layouts (round-plan.ts) and the
 * decryption of what the miner returns. The client compiles the plan itself from the model it holds (`plan`: the
 * shift of a square it applies, the periods) and checks the miner's descriptor against it: same plan id, same
 * descriptor. Uploads are seeded symmetric encryptions, zstd, at exactly the level each round input wants.
 */
export class RoundClient {
  readonly descriptor: RoundPlanDescriptor;
  private readonly seal: SEALLibrary;
  private readonly fc: FheContext;
  private readonly keygenObj: KeyGenerator;
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;
  private readonly encoder: CKKSEncoder;
  private readonly evaluator: Evaluator;
  private readonly pool: PoolHandle;
  private disposed = false;

  private constructor(seal: SEALLibrary, readonly plan: CompiledRoundPlan) {
    this.seal = seal;
    this.descriptor = plan.descriptor;
    this.fc = getContext(seal, getParamSet(plan.descriptor.params));
    this.pool = globalPool(seal);
    const ctx = this.fc.context;
    this.keygenObj = seal.KeyGenerator(ctx);
    const sk = this.keygenObj.secretKey();
    const pk = this.keygenObj.createPublicKey();
    this.encryptor = seal.Encryptor(ctx, pk, sk);
    this.decryptor = seal.Decryptor(ctx, sk);
    pk.delete();
    sk.delete();
    this.encoder = seal.CKKSEncoder(ctx);
    this.evaluator = seal.Evaluator(ctx);
  }

  /** `descriptor` (e.g. a miner's) must be exactly the locally compiled plan's. */
  static async create(plan: CompiledRoundPlan, descriptor: unknown = plan.descriptor, seal?: SEALLibrary): Promise<RoundClient> {
    const parsed = RoundPlanDescriptorSchema.safeParse(descriptor);
    if (!parsed.success) throw new PlanDescriptorError(`invalid round plan descriptor: ${parsed.error.message}`);
    if (roundPlanIdFor(parsed.data.modelHash, parsed.data.options) !== parsed.data.planId) {
      throw new PlanDescriptorError("round plan descriptor's planId does not match its modelHash and options");
    }
    if (JSON.stringify(parsed.data) !== JSON.stringify(plan.descriptor)) {
      throw new PlanDescriptorError("the miner's round plan descriptor differs from the plan compiled from the model");
    }
    return new RoundClient(seal ?? await loadSeal(), plan);
  }

  get slots(): number { return this.fc.slots; }

  keygen(): KeygenResult {
    this.assertOpen();
    const d = this.descriptor;
    const zstd = this.seal.ComprModeType.zstd;
    const gser = this.keygenObj.createGaloisKeysSerializable(Int32Array.from(d.galoisSteps));
    const galoisKeys = wrapSeal("galois keys", gser.saveArray(zstd));
    gser.delete();
    let relinKeys: Uint8Array = new Uint8Array(0);
    if (d.relin) {
      const rser = this.keygenObj.createRelinKeysSerializable();
      relinKeys = wrapSeal("relin keys", rser.saveArray(zstd));
      rser.delete();
    }
    return { planId: d.planId, galoisKeys, relinKeys, keyBytes: galoisKeys.length + relinKeys.length };
  }

  /** The window's rows in their cache blocks (row j of `rows` in block j). */
  encryptPrefill(rows: readonly ArrayLike<number>[]): Uint8Array {
    const d = this.descriptor;
    if (rows.length > d.window) throw new ShapeError(`${rows.length} rows do not fit a window of ${d.window}`);
    const slots = new Float64Array(this.fc.slots);
    rows.forEach((r, j) => this.putRow(slots, r, j));
    return this.encryptSlots(slots, this.fc.set.levels);
  }

  /** The newest row in block `block` of the cache (its position in the window). */
  encryptQuery(row: ArrayLike<number>, block: number): Uint8Array {
    if (!Number.isInteger(block) || block < 0 || block >= this.descriptor.window) throw new ShapeError(`row block ${block} outside the window`);
    const slots = new Float64Array(this.fc.slots);
    this.putRow(slots, row, block);
    return this.encryptSlots(slots, this.inputLevel(0, "query"));
  }

  /** Row weights (softmax over the window's rows): weight j fills block j. */
  encryptWeights(round: number, a: ArrayLike<number>): Uint8Array {
    const d = this.descriptor;
    if (a.length > d.window) throw new ShapeError(`${a.length} weights for a window of ${d.window}`);
    const slots = new Float64Array(this.fc.slots);
    for (let j = 0; j < a.length; j++) {
      if (!Number.isFinite(a[j]!)) throw new ShapeError(`weight ${j} is not finite`);
      slots.fill(a[j]!, j * d.period, (j + 1) * d.period);
    }
    return this.encryptSlots(slots, this.inputLevel(round, "softmax"));
  }

  /**
   * A vector the client re-encrypts at the top level (a refresh input), squared with the plan's shift first when the
   * plan hands the square to the client: (v + shift)², exactly.
   */
  encryptRefresh(round: number, v: ArrayLike<number>): Uint8Array {
    const input = this.plan.rounds[round]?.inputs.find((i) => i.kind === "refresh");
    if (input === undefined || input.kind !== "refresh") throw new ShapeError(`round ${round} takes no refresh`);
    const reg = this.plan.regs[input.reg]!;
    const dim = this.plan.graph.registers[input.reg]!.dim;
    if (v.length !== dim) throw new ShapeError(`refresh of ${v.length} values, the register holds ${dim}`);
    const vals = Float64Array.from(v);
    if (input.square) for (let i = 0; i < dim; i++) { const s = vals[i]! + input.square[i % input.square.length]!; vals[i] = s * s; }
    const slots = new Float64Array(this.fc.slots);
    for (let i = 0; i < slots.length; i++) { const k = i % reg.period; slots[i] = k < dim ? vals[k]! : 0; }
    return this.encryptSlots(slots, input.level);
  }

  /** Decrypts a round's outputs: row scores (first `rows` of them), or vectors (padding dropped). */
  decryptOutputs(round: number, cts: Uint8Array[], rows?: number): Float32Array[] {
    this.assertOpen();
    const d = this.descriptor.rounds[round];
    if (d === undefined) throw new ShapeError(`round ${round} does not exist`);
    const expected = d.outputs.reduce((a, o) => a + o.ciphertexts, 0);
    if (!Array.isArray(cts) || cts.length !== expected) throw new ShapeError(`round ${round} returns ${expected} ciphertexts, got ${Array.isArray(cts) ? cts.length : "none"}`);
    const S = this.fc.slots, p = this.descriptor.period;
    let k = 0;
    return d.outputs.map((o) => {
      const slots = Array.from({ length: o.ciphertexts }, () => this.decryptSlots(cts[k++]!));
      if (o.layout === "rowsum") {
        const n = rows ?? this.descriptor.window;
        return Float32Array.from({ length: n }, (_, j) => slots[0]![j * p]!);
      }
      const out = new Float32Array(o.dim);
      for (let i = 0; i < o.dim; i++) out[i] = o.layout === "blocks" ? slots[Math.floor(i / S)]![i % S]! : slots[0]![i]!;
      return out;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.keygenObj.delete();
    this.encryptor.delete();
    this.decryptor.delete();
    this.encoder.delete();
    this.evaluator.delete();
  }

  private inputLevel(round: number, kind: string): number {
    const i = this.descriptor.rounds[round]?.inputs.find((x) => x.kind === kind);
    if (i === undefined) throw new ShapeError(`round ${round} takes no ${kind} input`);
    return i.level;
  }

  private putRow(slots: Float64Array, row: ArrayLike<number>, block: number): void {
    const d = this.descriptor;
    if (row.length !== d.width) throw new ShapeError(`a row of ${row.length} values, the plan's rows hold ${d.width}`);
    for (let i = 0; i < d.width; i++) {
      if (!Number.isFinite(row[i]!)) throw new ShapeError(`row value ${i} is not finite`);
      slots[block * d.period + i] = row[i]!;
    }
  }

  private encryptSlots(slots: Float64Array, level: number): Uint8Array {
    this.assertOpen();
    const pt = this.seal.PlainText({ pool: this.pool });
    try {
      this.encoder.encode(slots, 2 ** this.fc.set.scaleBits, pt, this.pool);
      if (level < this.fc.parmsIds.length - 1) this.evaluator.plainModSwitchTo(pt, this.fc.parmsIds[level]!, pt);
      const ser = this.encryptor.encryptSymmetricSerializable(pt, this.pool);
      const out = wrapSeal("ciphertext", ser.saveArray(this.seal.ComprModeType.zstd));
      ser.delete();
      return out;
    } finally {
      pt.delete();
    }
  }

  private decryptSlots(bytes: Uint8Array): Float64Array {
    const body = unwrapSeal("ciphertext", bytes, this.descriptor.caps.outputCiphertextBytes, COMPR_ZSTD);
    const ct = this.seal.CipherText({ pool: this.pool });
    const pt = this.seal.PlainText({ pool: this.pool });
    try {
      guardedLoad("ciphertext", () => ct.loadArray(this.fc.context, body));
      if (ct.coeffModulusSize !== 1 || ct.size !== 2) throw new CiphertextInvalidError("output ciphertext is not a size-2 ciphertext at the last level");
      this.decryptor.decrypt(ct, pt);
      return Float64Array.from(this.encoder.decode(pt, this.pool));
    } finally {
      ct.delete();
      pt.delete();
    }
  }

  private assertOpen(): void {
    if (this.disposed) throw new ClosedError("client");
  }
}

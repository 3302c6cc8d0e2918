import type { SEALLibrary } from "node-seal/implementation/seal.js";
import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder.js";
import type { Decryptor } from "node-seal/implementation/decryptor.js";
import type { Encryptor } from "node-seal/implementation/encryptor.js";
import type { Evaluator } from "node-seal/implementation/evaluator.js";
import type { KeyGenerator } from "node-seal/implementation/key-generator.js";
import { CiphertextInvalidError, ClosedError, PlanDescriptorError, ShapeError } from "./errors.ts";
import type { SessionKeys } from "./evaluator.ts";
import { getParamSet } from "./params.ts";
import { laneVector, layoutVector, PlanDescriptorSchema, planIdFor, type PlanDescriptor } from "./plan.ts";
import { COMPR_ZSTD, guardedLoad, unwrapSeal, wrapSeal } from "./serialize.ts";
import { getContext, globalPool, loadSeal, type FheContext, type PoolHandle } from "./seal.ts";

export interface KeygenResult extends SessionKeys {
  /** Bytes uploaded once per session (galois + relin). */
  readonly keyBytes: number;
}

/**
 * Client side: holds the secret key. Encrypts inputs in the plan's packing (zero-padded to the input period, then
 * replicated across all slots or, for a lane-packed plan, laid out in lanes pre-rotated by 0, 1, 2, …; at exactly
 * the level the plan consumes), decrypts outputs. Uploads use SEAL's seeded symmetric encryption (half the bytes:
 * the random polynomial travels as a seed) and zstd compression.
 */
export class FheClient {
  readonly descriptor: PlanDescriptor;
  private readonly seal: SEALLibrary;
  private readonly fc: FheContext;
  private readonly keygenObj: KeyGenerator;
  private readonly encryptor: Encryptor;
  private readonly decryptor: Decryptor;
  private readonly encoder: CKKSEncoder;
  private readonly evaluator: Evaluator;
  private readonly pool: PoolHandle;
  private disposed = false;

  private constructor(seal: SEALLibrary, descriptor: PlanDescriptor) {
    this.seal = seal;
    this.descriptor = descriptor;
    this.fc = getContext(seal, getParamSet(descriptor.params));
    this.pool = globalPool(seal);
    if (descriptor.inputLevel >= this.fc.parmsIds.length) {
      throw new PlanDescriptorError(`input level ${descriptor.inputLevel} exceeds ${descriptor.params}`);
    }
    if (descriptor.inputPeriod > this.fc.slots || this.fc.slots % descriptor.inputPeriod !== 0 ||
      descriptor.inputDim > descriptor.inputPeriod) {
      throw new PlanDescriptorError("input period must be a power of two ≥ inputDim dividing the slot count");
    }
    if (descriptor.inputLanes !== 0 && descriptor.inputLanes * 2 * descriptor.inputPeriod !== this.fc.slots) {
      throw new PlanDescriptorError("input lanes must be 0 or slots / (2 · input period)");
    }
    const ctx = this.fc.context;
    this.keygenObj = seal.KeyGenerator(ctx);
    const sk = this.keygenObj.secretKey();
    const pk = this.keygenObj.createPublicKey(); // node-seal's Encryptor wants one; it never leaves the client
    this.encryptor = seal.Encryptor(ctx, pk, sk);
    this.decryptor = seal.Decryptor(ctx, sk);
    pk.delete();
    sk.delete();
    this.encoder = seal.CKKSEncoder(ctx);
    this.evaluator = seal.Evaluator(ctx);
  }

  /**
   * `descriptor` usually arrives from the miner: it is validated with zod before anything is built from it. `seal`
   * is the SEAL library to use (default: node-seal's Node build; the browser passes its web build).
   */
  static async create(descriptor: unknown, seal?: SEALLibrary): Promise<FheClient> {
    const parsed = PlanDescriptorSchema.safeParse(descriptor);
    if (!parsed.success) throw new PlanDescriptorError(`invalid plan descriptor: ${parsed.error.message}`);
    if (planIdFor(parsed.data.modelHash, parsed.data.options) !== parsed.data.planId) {
      throw new PlanDescriptorError("plan descriptor's planId does not match its modelHash and options");
    }
    if (parsed.data.options.params !== null && parsed.data.options.params !== parsed.data.params) {
      throw new PlanDescriptorError("plan descriptor's parameter set differs from the one its options force");
    }
    return new FheClient(seal ?? await loadSeal(), parsed.data);
  }

  /** Public evaluation keys for exactly the plan's rotation steps (+ relin keys if it squares), seeded + zstd. */
  keygen(): KeygenResult {
    this.assertOpen();
    const d = this.descriptor;
    const zstd = this.seal.ComprModeType.zstd;
    let galoisKeys: Uint8Array = new Uint8Array(0);
    if (d.galoisPow2 || d.galoisSteps.length > 0) {
      const ser = this.keygenObj.createGaloisKeysSerializable(Int32Array.from(d.galoisPow2 ? [] : d.galoisSteps));
      galoisKeys = wrapSeal("galois keys", ser.saveArray(zstd));
      ser.delete();
    }
    let relinKeys: Uint8Array = new Uint8Array(0);
    if (d.relin) {
      const ser = this.keygenObj.createRelinKeysSerializable();
      relinKeys = wrapSeal("relin keys", ser.saveArray(zstd));
      ser.delete();
    }
    return { planId: d.planId, galoisKeys, relinKeys, keyBytes: galoisKeys.length + relinKeys.length };
  }

  /** One ciphertext holding x (length inputDim). `seeded: false` only to measure what seeding saves. */
  encryptInput(x: ArrayLike<number>, opts: { seeded?: boolean } = {}): Uint8Array[] {
    this.assertOpen();
    const d = this.descriptor;
    if (x.length !== d.inputDim) throw new ShapeError(`input has ${x.length} values, plan expects ${d.inputDim}`);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new ShapeError(`input value ${i} is not finite`);
    }
    const slots = d.inputLanes > 0
      ? laneVector(x, d.inputDim, d.inputPeriod, d.inputLanes, this.fc.slots)
      : layoutVector(x, d.inputDim, d.inputPeriod, 1, this.fc.slots)[0]!;
    const pt = this.seal.PlainText({ pool: this.pool });
    try {
      this.encoder.encode(slots, 2 ** this.fc.set.scaleBits, pt, this.pool);
      // Only the levels the plan consumes travel: place the plaintext (hence the ciphertext) at the input level.
      if (d.inputLevel < this.fc.parmsIds.length - 1) {
        this.evaluator.plainModSwitchTo(pt, this.fc.parmsIds[d.inputLevel], pt);
      }
      const zstd = this.seal.ComprModeType.zstd;
      if (opts.seeded === false) {
        const ct = this.seal.CipherText({ pool: this.pool });
        this.encryptor.encryptSymmetric(pt, ct, this.pool);
        const out = wrapSeal("ciphertext", ct.saveArray(zstd));
        ct.delete();
        return [out];
      }
      const ser = this.encryptor.encryptSymmetricSerializable(pt, this.pool);
      const out = wrapSeal("ciphertext", ser.saveArray(zstd));
      ser.delete();
      return [out];
    } finally {
      pt.delete();
    }
  }

  /** Decrypts the miner's output ciphertexts into outputDim values (padding dropped). */
  decryptOutput(cts: Uint8Array[]): Float32Array {
    this.assertOpen();
    const d = this.descriptor;
    if (!Array.isArray(cts) || cts.length !== d.outputBlocks) {
      throw new ShapeError(`expected ${d.outputBlocks} output ciphertexts, got ${Array.isArray(cts) ? cts.length : "none"}`);
    }
    const out = new Float32Array(d.outputDim);
    const S = this.fc.slots;
    cts.forEach((bytes, b) => {
      const body = unwrapSeal("ciphertext", bytes, d.caps.outputCiphertextBytes, COMPR_ZSTD);
      const ct = this.seal.CipherText({ pool: this.pool });
      const pt = this.seal.PlainText({ pool: this.pool });
      try {
        guardedLoad("ciphertext", () => ct.loadArray(this.fc.context, body));
        // The loader refuses parms ids outside our chain, so the prime count identifies the level (and avoids
        // node-seal's leaky parmsId getter).
        if (ct.coeffModulusSize !== 1 || ct.size !== 2) throw new CiphertextInvalidError("output ciphertext is not a size-2 ciphertext at the last level");
        this.decryptor.decrypt(ct, pt);
        const slots = this.encoder.decode(pt, this.pool);
        const base = b * S;
        const n = Math.min(S, d.outputDim - base);
        for (let i = 0; i < n; i++) out[base + i] = slots[i];
      } finally {
        ct.delete();
        pt.delete();
      }
    });
    return out;
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

  private assertOpen(): void {
    if (this.disposed) throw new ClosedError("client");
  }
}

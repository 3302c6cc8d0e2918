import type { SEALLibrary } from "node-seal/implementation/seal.js";
import type { Context } from "node-seal/implementation/context.js";
import type { ParmsIdType } from "node-seal/implementation/parms-id-type.js";
import type { MemoryPoolHandle } from "node-seal/implementation/memory-pool-handle.js";
import type { ParamSet } from "./params.ts";

export type { SEALLibrary };

/**
 * The part of SEAL a miner may touch: everything except secret-key material. Miner-side modules receive only this
 * type, so constructing a Decryptor or a KeyGenerator there is a compile error — the "no secret key" rule is
 * enforced by type, not by convention.
 */
export type PublicSeal = Omit<SEALLibrary, "Decryptor" | "KeyGenerator" | "SecretKey">;

let loading: Promise<SEALLibrary> | undefined;
/**
 * One WASM instance per process (node-seal is single-threaded; more instances would only cost memory). Imported
 * lazily so that a browser, which injects node-seal's web build instead (FheClient.create's `seal`), never loads
 * the Node build.
 */
export function loadSeal(): Promise<SEALLibrary> {
  // node-seal's typings describe its ES build; on Node the UMD build's module.exports is the factory itself.
  loading ??= import("node-seal").then((m) => (m.default as unknown as () => Promise<SEALLibrary>)());
  return loading;
}

/** A SEAL context plus the facts derived from it that every plan needs: parms ids and primes per level. */
export interface FheContext {
  readonly set: ParamSet;
  readonly context: Context;
  readonly slots: number;
  /** parms ids indexed by chain index (0 = last level, only q0; levels = top data level). */
  readonly parmsIds: readonly ParmsIdType[];
  /** parms id values per chain index, for cheap comparisons. */
  readonly parmsIdValues: readonly bigint[][];
  /** The prime a rescale at chain index c divides by (the last data prime at that level). */
  readonly primeAt: readonly number[];
  readonly keyParmsIdValues: readonly bigint[];
}

/**
 * One handle to SEAL's global memory pool, passed explicitly to every call that takes one. node-seal's default
 * argument (`MemoryPoolHandle.global`) builds a new C++ handle object on every call and never frees it — hundreds of
 * leaked objects per evaluation, a slow RSS creep over a miner's lifetime.
 */
export type PoolHandle = MemoryPoolHandle;
let pool: PoolHandle | undefined;
export function globalPool(seal: PublicSeal): PoolHandle {
  pool ??= seal.MemoryPoolHandle.global as PoolHandle;
  return pool;
}

const contexts = new Map<string, FheContext>();

/**
 * Contexts are created once per parameter set and live for the process: they are shared by every evaluator,
 * session and client, so no single owner may delete them.
 */
export function getContext(seal: PublicSeal, set: ParamSet): FheContext {
  const cached = contexts.get(set.name);
  if (cached) return cached;
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(set.polyModulusDegree);
  const chain = seal.CoeffModulus.Create(set.polyModulusDegree, Int32Array.from(set.coeffBits));
  parms.setCoeffModulus(chain);
  const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
  chain.delete();
  parms.delete();
  if (!context.parametersSet()) throw new Error(`SEAL rejected parameter set ${set.name}`);
  const parmsIds: ParmsIdType[] = [];
  const primeAt: number[] = [];
  let data = context.firstContextData;
  const top = data.chainIndex;
  for (let idx = top; idx >= 0; idx--) {
    parmsIds[idx] = data.parmsId;
    const p = data.parms;
    const moduli = p.coeffModulus;
    primeAt[idx] = Number(moduli[moduli.length - 1]);
    p.delete();
    if (idx === 0) { data.delete(); break; }
    const next = data.nextContextData;
    data.delete();
    data = next;
  }
  const keyId = context.keyParmsId;
  const fc: FheContext = {
    set, context, slots: set.polyModulusDegree / 2, parmsIds,
    parmsIdValues: parmsIds.map((p) => Array.from(p.values)), primeAt,
    keyParmsIdValues: Array.from(keyId.values),
  };
  keyId.delete();
  contexts.set(set.name, fc);
  return fc;
}

export function sameParmsId(a: readonly bigint[], b: readonly bigint[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Galois element SEAL uses for a left rotation by `step` slots (3^step mod 2N; verified against hasKey). */
export function galoisElt(step: number, polyModulusDegree: number): number {
  const m = BigInt(2 * polyModulusDegree);
  let e = 1n;
  const s = ((step % (polyModulusDegree / 2)) + polyModulusDegree / 2) % (polyModulusDegree / 2);
  for (let i = 0; i < s; i++) e = (e * 3n) % m;
  return Number(e);
}

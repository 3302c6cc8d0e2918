import { LevelBudgetError, ParamsMismatchError } from "./errors.ts";

/**
 * CKKS parameter sets, 128-bit classical security per SEAL's tables (HomomorphicEncryption.org standard): for
 * poly modulus degree N the total coeff modulus may have at most 109 (N = 4096), 218 (N = 8192), 438 (N = 16384)
 * bits. The first prime q0 holds the final result (scale + integer headroom), the middle primes are dropped by one
 * rescale each (= one multiplicative level, so scale ≈ middle prime size), the last "special" prime is only used
 * for key switching. A plan picks the smallest set whose level count covers its depth.
 *
 * Level budget of the Brown LM (128 → 128 → poly2 → 16,384): W1·x (1 level) + square (1) + W2·p (1) = 3 levels, so
 * n8192-l3 fits exactly: input scale 2^36 at 4 data primes; after three rescales the output sits at q0 = 2^50 with
 * scale ≈ 2^36, leaving 2^13 of integer headroom for logits and ≈ 2^-20 precision (measured error ≈ 1e-6).
 * Each plaintext weight is encoded at scale = the prime its product is about to be rescaled by, so ciphertext
 * scales stay exactly 2^36 through linear layers; only the square moves the scale (to 2^72/q, still ≈ 2^36).
 */
export interface ParamSet {
  readonly name: string;
  readonly polyModulusDegree: number;
  /** Bit sizes of the coeff modulus chain: [q0, middle primes..., special prime]. */
  readonly coeffBits: readonly number[];
  readonly scaleBits: number;
  /** Multiplicative levels = number of middle primes (rescales available). */
  readonly levels: number;
  /** SEAL's 128-bit bound on total coeff modulus bits for this N. */
  readonly maxBits128: number;
  readonly why: string;
}

export const PARAM_SETS = {
  "n8192-l3": {
    name: "n8192-l3", polyModulusDegree: 8192, coeffBits: [50, 36, 36, 36, 50], scaleBits: 36, levels: 3,
    maxBits128: 218,
    why: "4,096 slots; 208 of 218 allowed bits; three rescales = linear + square + linear (the Brown LM). " +
      "Measured ≈ 4–8 ms per rotation, a seeded input ciphertext ≈ 200 KB, ≈ 1 MB per Galois key step.",
  },
  "n8192-l2": {
    name: "n8192-l2", polyModulusDegree: 8192, coeffBits: [36, 29, 29, 37], scaleBits: 29, levels: 2,
    maxBits128: 218,
    why: "4,096 slots; 131 of 218 bits; two rescales at scale 2^29, q0 = 2^36 (|values| < 64 at the last level), the " +
      "special prime the largest. The transformer's four-round plan: the client refreshes twice a word, so no round is " +
      "deeper than two levels — the smallest ciphertexts, keys and key switches of the N = 8192 sets.",
  },
  "n8192-l3s": {
    name: "n8192-l3s", polyModulusDegree: 8192, coeffBits: [36, 29, 29, 29, 37], scaleBits: 29, levels: 3,
    maxBits128: 218,
    why: "4,096 slots; 160 of 218 bits; three rescales at scale 2^29, q0 = 2^36 — the MLP's depth with the " +
      "transformer's smaller primes (smaller ciphertexts than n8192-l3). The transformer's three-round plan that hands " +
      "the square to the client.",
  },
  "n8192-l4": {
    name: "n8192-l4", polyModulusDegree: 8192, coeffBits: [36, 29, 29, 29, 29, 37], scaleBits: 29, levels: 4,
    maxBits128: 218,
    why: "4,096 slots; 189 of 218 bits; four rescales at scale 2^29, q0 = 2^36. The transformer's three-round plan.",
  },
  "n8192-l5": {
    name: "n8192-l5", polyModulusDegree: 8192, coeffBits: [36, 29, 29, 29, 29, 29, 37], scaleBits: 29, levels: 5,
    maxBits128: 218,
    why: "4,096 slots; all 218 bits; five rescales at scale 2^29. The deepest 4,096-slot chain at 128-bit security: " +
      "the transformer's two-round plan (attention mix, the folded FFN input, square, FFN out, vocabulary). q0 = 2^36 " +
      "leaves 2^7 of headroom for scores and logits (|value| < 64 signed); the special prime is the largest, for key switching.",
  },
  "n16384-l9": {
    name: "n16384-l9", polyModulusDegree: 16384, coeffBits: [50, 36, 36, 36, 36, 36, 36, 36, 36, 36, 50],
    scaleBits: 36, levels: 9, maxBits128: 438,
    why: "8,192 slots; 424 of 438 allowed bits; nine rescales (e.g. 5 linear layers + 4 squares, or degree-3 " +
      "activations). Every operation and every key costs ≈ 2.5–3× the N = 8192 set, so it is only chosen when needed.",
  },
} as const satisfies Record<string, ParamSet>;

export type ParamSetName = keyof typeof PARAM_SETS;
export const PARAM_SET_NAMES = Object.keys(PARAM_SETS) as ParamSetName[];

export function getParamSet(name: string): ParamSet {
  if (!(name in PARAM_SETS)) {
    throw new ParamsMismatchError(`unknown CKKS parameter set "${name}" (known: ${PARAM_SET_NAMES.join(", ")})`);
  }
  return PARAM_SETS[name as ParamSetName];
}

/** Smallest set with enough levels (sets are listed cheapest first), or the forced one if it fits. */
export function selectParamSet(levelsNeeded: number, forced?: string): ParamSet {
  if (forced !== undefined) {
    const set = getParamSet(forced);
    if (set.levels < levelsNeeded) {
      throw new LevelBudgetError(levelsNeeded,
        `plan needs ${levelsNeeded} multiplicative levels but parameter set ${set.name} gives ${set.levels}`);
    }
    return set;
  }
  for (const name of PARAM_SET_NAMES) if (PARAM_SETS[name].levels >= levelsNeeded) return PARAM_SETS[name];
  const max = Math.max(...PARAM_SET_NAMES.map((n) => PARAM_SETS[n].levels));
  throw new LevelBudgetError(levelsNeeded,
    `plan needs ${levelsNeeded} multiplicative levels; the deepest 128-bit parameter set gives ${max}`);
}

export function slotCount(set: ParamSet): number { return set.polyModulusDegree / 2; }

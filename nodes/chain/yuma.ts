/**
 * TypeScript reference of the on-chain Yuma-style settlement (contracts/lib/YumaMath.sol + Consensus.sol), on bigint
 * with exactly the same integer operations and truncating divisions. Used by the known-answer tests, and later by
 * dashboards and simulations. Pure functions, no I/O. Spec: docs/PROTOCOL.md "## Consensus math".
 */
import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";
import { CerberusError } from "../core/errors.ts";

/** Input the contracts would reject (same rules as Consensus.reveal). */
export class InvalidWeightsError extends CerberusError {}

export const W_ONE = 65_535n; // a revealed row is normalized to sum ≤ W_ONE
export const S_ONE = 1n << 32n; // stake share scale
export const BOND_ONE = 1n << 24n; // bond scale (bonds are per unit of stake, ≤ 2·BOND_ONE + 1)
export const ALPHA_NUM = 1n; // bond EMA α = ALPHA_NUM / ALPHA_DEN
export const ALPHA_DEN = 10n;
export const SHARE_ONE = 65_535n; // incentive / dividend display shares
/** Thresholds of the bond lanes' exponent (see encodeBond) and half an ulp per exponent. */
const BOND_T = [1n << 14n, (1n << 18n) - 8n, (1n << 22n) - 128n];
const BOND_HALF = [0n, 8n, 128n, 2048n];

/**
 * The 16-bit float lane a bond is stored in (Consensus): code = e << 14 | m with bond = m << 4e; e counts the
 * thresholds 2^14, 2^18 − 8, 2^22 − 128 that the bond reaches and m = (bond + half an ulp) >> 4e (round to nearest;
 * the thresholds keep m < 2^14). Every bond keeps at least 10 significant bits (exact below 2^14).
 */
export function encodeBond(b: bigint): number {
  let e = 0;
  for (const t of BOND_T) if (b >= t) e++;
  return (e << 14) | Number((b + BOND_HALF[e]) >> BigInt(4 * e));
}

/** The bond a lane code stands for: m << 4e. */
export function decodeBond(code: number): bigint {
  return BigInt(code & 0x3fff) << BigInt(4 * (code >> 14));
}
export const BPS = 10_000n;
export const GWEI = 1_000_000_000n; // miner ledger unit
export const MAX_MINERS = 256;
export const MAX_VALIDATORS = 32;

/** What a commit binds besides the weights (Consensus.reveal recomputes it with msg.sender and its seat). */
export interface CommitBinding {
  chainId: bigint;
  /** The Consensus contract. */
  consensus: Address;
  brainId: bigint;
  epoch: bigint;
  /** The validator hotkey that will reveal. */
  hotkey: Address;
  /** Its validator seat in the Brain. */
  validatorUid: number;
}

/**
 * keccak256(abi.encode(uint256 chainId, address consensus, uint256 brainId, uint256 epoch, address hotkey,
 * uint16 validatorUid, uint16[] uids, uint16[] weights, bytes32 salt)): a copied commit cannot be revealed by anyone
 * but the hotkey and seat it names, on another chain or on another deployment.
 */
export function weightsCommitHash(
  b: CommitBinding,
  uids: readonly number[],
  weights: readonly number[],
  salt: Hex,
): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: "uint256" }, { type: "address" }, { type: "uint256" }, { type: "uint256" }, { type: "address" },
        { type: "uint16" }, { type: "uint16[]" }, { type: "uint16[]" }, { type: "bytes32" },
      ],
      [b.chainId, b.consensus, b.brainId, b.epoch, b.hotkey, b.validatorUid, [...uids], [...weights], salt],
    ),
  );
}

/** Checks a weight vector as Consensus.reveal does; throws InvalidWeightsError (code INVALID_WEIGHTS). */
export function checkWeights(uids: readonly number[], weights: readonly number[], maxMiners: number): void {
  const bad = (why: string) => new InvalidWeightsError("INVALID_WEIGHTS", why);
  if (uids.length === 0 || uids.length !== weights.length) throw bad("uids and weights must be non-empty, same length");
  uids.forEach((u, k) => {
    if (!Number.isInteger(u) || u < 0 || u >= maxMiners) throw bad(`uid ${u} outside [0, ${maxMiners})`);
    if (k > 0 && u <= uids[k - 1]) throw bad("uids must be strictly increasing");
    const w = weights[k];
    if (!Number.isInteger(w) || w < 0 || w > 65_535) throw bad(`weight ${w} is not a uint16`);
  });
  if (weights.every((w) => w === 0)) throw bad("weights sum to zero");
}

/** Row normalization done on-chain at reveal: w·W_ONE/Σw (floor), dense over `maxMiners` uids. */
export function normalizeRow(uids: readonly number[], weights: readonly number[], maxMiners: number): bigint[] {
  checkWeights(uids, weights, maxMiners);
  const sum = weights.reduce((a, w) => a + BigInt(w), 0n);
  const row = new Array<bigint>(maxMiners).fill(0n);
  uids.forEach((u, k) => {
    row[u] = (BigInt(weights[k]) * W_ONE) / sum;
  });
  return row;
}

/** Voting stake in whole gwei of a seat whose least stake bonded to the Brain from the epoch's first block until the
 *  settlement is `wei` (the contracts keep it in whole gwei); 0 (not eligible: neither votes nor earns) when that is
 *  below `minStake` or below 1 gwei. */
export function votingStake(wei: bigint, minStake: bigint): bigint {
  const g = wei / GWEI;
  return g === 0n || g * GWEI < minStake ? 0n : g;
}

/** Stake shares σ over the voting stake of the validators that revealed: S·S_ONE/ΣS (floor); 0 for the others. */
export function stakeShares(votes: readonly bigint[], revealed: readonly boolean[]): bigint[] {
  const total = votes.reduce((a, s, i) => (revealed[i] ? a + s : a), 0n);
  return votes.map((s, i) => (revealed[i] && total !== 0n ? (s * S_ONE) / total : 0n));
}

/**
 * Stake-weighted median with κ = 1/2, exact: the largest c among `ws` such that twice the voting stake of the revealed
 * validators with w ≥ c reaches `total` — the voting stake of every eligible validator, so non-revealers abstain;
 * 0 if none does.
 */
export function weightedMedian(ws: readonly bigint[], stakes: readonly bigint[], total: bigint): bigint {
  if (total === 0n) return 0n;
  const candidates = [...new Set(ws)].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  for (const c of candidates) {
    let above = 0n;
    ws.forEach((w, k) => {
      if (w >= c) above += stakes[k];
    });
    if (2n * above >= total) return c;
  }
  return 0n;
}

export interface EpochInput {
  /** Per validator seat: normalized weight row (length maxMiners) if it revealed this epoch, else null. */
  weights: readonly (readonly bigint[] | null)[];
  /** Per validator seat (wei): the least stake its holder bonded to the Brain from the epoch's first block until the
   *  settlement (0 for a seat taken after the epoch began). */
  stakes: readonly bigint[];
  /** The Brain's minValidatorStake (wei); default 0. */
  minStake?: bigint;
  /** Bonds before the epoch, [seat][miner], scale BOND_ONE (as stored: decodeBond of their lanes). */
  bonds: readonly (readonly bigint[])[];
  validatorSeated: readonly boolean[];
  /** Miner seats held since before the epoch began (a seat taken later gets no rank for it). */
  minerSeated: readonly boolean[];
}

export interface EpochResult {
  /** Voting stake per seat in whole gwei (0 = not eligible). */
  votingStakes: bigint[];
  /** Σ voting stake of the eligible seats (the median's total: non-revealers abstain). */
  eligibleStake: bigint;
  stakeShares: bigint[];
  consensus: bigint[];
  ranks: bigint[];
  sumRank: bigint;
  bonds: bigint[][];
  dividendSums: bigint[];
  sumDividends: bigint;
}

/** One epoch of the settlement math (consensus, clipping, ranks, bond EMA, dividend sums). */
export function yumaEpoch(input: EpochInput): EpochResult {
  const nV = input.weights.length;
  const nM = input.minerSeated.length;
  const votes = input.stakes.map((w, i) => (input.validatorSeated[i] ? votingStake(w, input.minStake ?? 0n) : 0n));
  const eligibleStake = votes.reduce((a, b) => a + b, 0n);
  const revealed = input.weights.map((w, i) => w !== null && votes[i] > 0n);
  const voteOf = votes.map((v, i) => (revealed[i] ? v : 0n));
  const sh = stakeShares(voteOf, revealed);
  const consensus: bigint[] = [];
  const ranks: bigint[] = [];
  const clipped: bigint[][] = Array.from({ length: nV }, () => new Array<bigint>(nM).fill(0n));
  for (let j = 0; j < nM; j++) {
    const ws: bigint[] = [];
    const ss: bigint[] = [];
    for (let i = 0; i < nV; i++) {
      if (!revealed[i]) continue;
      ws.push(input.weights[i]![j]);
      ss.push(voteOf[i]);
    }
    const c = weightedMedian(ws, ss, eligibleStake);
    consensus.push(c);
    let r = 0n;
    for (let i = 0; i < nV; i++) {
      if (!revealed[i]) continue;
      const w = input.weights[i]![j];
      clipped[i][j] = w < c ? w : c;
      r += sh[i] * clipped[i][j];
    }
    ranks.push(input.minerSeated[j] ? r : 0n);
  }
  const bonds = input.bonds.map((row) => [...row]);
  const dividendSums = new Array<bigint>(nV).fill(0n);
  for (let i = 0; i < nV; i++) {
    if (!input.validatorSeated[i]) continue;
    for (let j = 0; j < nM; j++) {
      if (!input.minerSeated[j]) continue;
      const r = ranks[j];
      // per unit of stake: ΔB = w̄·S_ONE·BOND_ONE / R (no stake factor, so small validators are not floored to 0);
      // the EMA rounds to nearest and pays dividends at full precision; the bond is stored as a float lane
      const db = r === 0n ? 0n : (clipped[i][j] * S_ONE * BOND_ONE) / r;
      const b = (ALPHA_NUM * db + (ALPHA_DEN - ALPHA_NUM) * bonds[i][j] + ALPHA_DEN / 2n) / ALPHA_DEN;
      bonds[i][j] = decodeBond(encodeBond(b));
      if (revealed[i]) dividendSums[i] += b * r;
    }
    dividendSums[i] *= voteOf[i]; // D_i = S_i · Σ_j B_ij·R_j
  }
  return {
    votingStakes: voteOf,
    eligibleStake,
    stakeShares: sh,
    consensus,
    ranks,
    sumRank: ranks.reduce((a, b) => a + b, 0n),
    bonds,
    dividendSums,
    sumDividends: dividendSums.reduce((a, b) => a + b, 0n),
  };
}

export interface Split {
  ownerBps: bigint;
  minerBps: bigint;
  validatorBps: bigint;
}

export const DEFAULT_SPLIT: Split = { ownerBps: 1_800n, minerBps: 4_100n, validatorBps: 4_100n };

export interface Payout {
  emission: bigint;
  miner: bigint[];
  validator: bigint[];
  /** Owner share plus the rounding dust of both pools. */
  owner: bigint;
  incentiveShares: bigint[];
  dividendShares: bigint[];
}

/** How an epoch's emission is paid. If no miner has rank the epoch's accrual goes back to the emission schedule (not
 *  minted now): all zero. */
export function payout(r: EpochResult, emission: bigint, split: Split = DEFAULT_SPLIT): Payout {
  const nV = r.dividendSums.length;
  const nM = r.ranks.length;
  if (r.sumRank === 0n) {
    return {
      emission: 0n,
      miner: new Array<bigint>(nM).fill(0n),
      validator: new Array<bigint>(nV).fill(0n),
      owner: 0n,
      incentiveShares: new Array<bigint>(nM).fill(0n),
      dividendShares: new Array<bigint>(nV).fill(0n),
    };
  }
  const minerPool = (emission * split.minerBps) / BPS;
  const validatorPool = (emission * split.validatorBps) / BPS;
  const ownerPool = emission - minerPool - validatorPool;
  const share = (amount: bigint, part: bigint, whole: bigint) => (whole === 0n ? 0n : (amount * part) / whole);
  // the on-chain miner ledger counts whole gwei; the sub-gwei remainder is dust (to the owner)
  const miner = r.ranks.map((x) => (share(minerPool, x, r.sumRank) / GWEI) * GWEI);
  const validator = r.dividendSums.map((x) => share(validatorPool, x, r.sumDividends));
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  return {
    emission,
    miner,
    validator,
    owner: ownerPool + (minerPool - sum(miner)) + (validatorPool - sum(validator)),
    // capped at SHARE_ONE − 1: on-chain the lane stores share + 1 in 16 bits
    incentiveShares: r.ranks.map((x) => {
      const v = share(SHARE_ONE, x, r.sumRank);
      return v > SHARE_ONE - 1n ? SHARE_ONE - 1n : v;
    }),
    dividendShares: r.dividendSums.map((x) => share(SHARE_ONE, x, r.sumDividends)),
  };
}

/** Validator take and the delegators' part of a dividend (Staking.distribute). */
export function splitTake(amount: bigint, takeBps: bigint): { take: bigint; delegators: bigint } {
  const take = (amount * takeBps) / BPS;
  return { take, delegators: amount - take };
}

/** Emission schedule: reward of block `genesis + k` is initialReward >> floor(k / halvingInterval). */
export function cumulativeSchedule(initialReward: bigint, halvingInterval: bigint, blocksSinceGenesis: bigint): bigint {
  if (blocksSinceGenesis <= 0n) return 0n;
  const fullEras = blocksSinceGenesis / halvingInterval;
  let total = 0n;
  for (let era = 0n; era < fullEras && era < 256n; era++) total += (initialReward >> era) * halvingInterval;
  if (fullEras < 256n) total += (initialReward >> fullEras) * (blocksSinceGenesis % halvingInterval);
  return total;
}

/** Epoch windows of a Brain (genesis block g, tempo t): commit [g+e·t, g+(e+1)·t), reveal the first ⌊t/2⌋ blocks of
 *  the next epoch, settlement from then on. */
export function epochWindows(genesis: bigint, tempo: bigint, epoch: bigint) {
  const commitFrom = genesis + epoch * tempo;
  const revealFrom = commitFrom + tempo;
  const revealTo = revealFrom + tempo / 2n;
  return { commitFrom, revealFrom, revealTo, settleFrom: revealTo };
}

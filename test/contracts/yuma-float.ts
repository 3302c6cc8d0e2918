/**
 * Float model of the documented settlement rule (docs/PROTOCOL.md "Consensus math"), written from the spec and
 * independent of the fixed-point code (contracts/lib/YumaMath.sol, nodes/chain/yuma.ts): the test oracle that the
 * fixed-point settlement must track (dividends within 2% for every validator with ≥ 1e-6 of the revealed stake).
 * Plain numbers, no imports, so both the mocha tests (CommonJS) and the node:test fuzz (ESM, tsx) load it.
 */

export interface FloatEpoch {
  /** Per validator seat: its revealed row as normalized at reveal (`normalizeFloatRow`), or null if it did not
   *  reveal. */
  weights: readonly (readonly number[] | null)[];
  /** Per validator seat: voting stake (any unit), i.e. the least stake bonded from the epoch's start until settlement. */
  stakes: readonly number[];
  /** Minimum voting stake to vote and earn (same unit as stakes). */
  minStake: number;
  validatorSeated: readonly boolean[];
  /** Miner seats that take part (seated before the epoch began). */
  minerSeated: readonly boolean[];
}

export interface FloatResult {
  consensus: number[];
  incentive: number[];
  /** Dividend share of each validator seat (sums to 1 over the validators that earn, or all 0). */
  dividend: number[];
  /** Bonds after the epoch, per unit of stake. */
  bonds: number[][];
}

export const FLOAT_ALPHA = 0.1;

/** The documented reveal normalization: w_j ↦ ⌊w_j·65535/Σw⌋ / 65535 (a row sums to at most 1). */
export function normalizeFloatRow(raw: readonly number[]): number[] {
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => Math.floor((w * 65535) / sum) / 65535);
}

/** One epoch: `bonds` (per unit of stake, [validator][miner]) are the bonds before it; returns the new ones. */
export function floatEpoch(e: FloatEpoch, bonds: readonly (readonly number[])[]): FloatResult {
  const nV = e.weights.length;
  const nM = e.minerSeated.length;
  const eligible = e.stakes.map((s, i) => e.validatorSeated[i] && s > 0 && s >= e.minStake);
  const voting = eligible.map((ok, i) => ok && e.weights[i] !== null);
  const W: number[][] = e.weights.map((row, i) => (!voting[i] || row === null ? new Array<number>(nM).fill(0) : [...row]));
  const total = e.stakes.reduce((a, s, i) => (eligible[i] ? a + s : a), 0); // non-revealers abstain
  const revealedTotal = e.stakes.reduce((a, s, i) => (voting[i] ? a + s : a), 0);
  const consensus: number[] = [];
  for (let j = 0; j < nM; j++) {
    let c = 0;
    for (let i = 0; i < nV; i++) {
      if (!voting[i]) continue;
      const cand = W[i][j];
      if (cand <= c) continue;
      let above = 0;
      for (let k = 0; k < nV; k++) if (voting[k] && W[k][j] >= cand) above += e.stakes[k];
      if (2 * above >= total) c = cand;
    }
    consensus.push(c);
  }
  const clipped = W.map((row) => row.map((w, j) => Math.min(w, consensus[j])));
  const rank = consensus.map((_, j) => {
    if (!e.minerSeated[j] || revealedTotal === 0) return 0;
    let r = 0;
    for (let i = 0; i < nV; i++) if (voting[i]) r += (e.stakes[i] / revealedTotal) * clipped[i][j];
    return r;
  });
  const sumRank = rank.reduce((a, b) => a + b, 0);
  const incentive = rank.map((r) => (sumRank > 0 ? r / sumRank : 0));
  const next = bonds.map((row) => [...row]);
  for (let i = 0; i < nV; i++) {
    if (!e.validatorSeated[i]) continue;
    for (let j = 0; j < nM; j++) {
      if (!e.minerSeated[j]) continue;
      const target = rank[j] > 0 && voting[i] ? clipped[i][j] / rank[j] : 0;
      next[i][j] = FLOAT_ALPHA * target + (1 - FLOAT_ALPHA) * next[i][j];
    }
  }
  const d = next.map((row, i) => (voting[i] ? e.stakes[i] * row.reduce((a, b, j) => a + b * incentive[j], 0) : 0));
  const sumD = d.reduce((a, b) => a + b, 0);
  return { consensus, incentive, dividend: d.map((x) => (sumD > 0 ? x / sumD : 0)), bonds: next };
}

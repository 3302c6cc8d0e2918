/** Supply and solvency invariants, read from the chain's own records (events and views), for the attack tests:
 *  total supply = genesis − burned + minted, and each contract that holds CBR holds at least what it owes. */
import { expect } from "chai";
import type { Env } from "./helpers";

const ZERO = "0x0000000000000000000000000000000000000000";

export interface Solvency {
  genesis: bigint;
  burned: bigint;
  minted: bigint;
  supply: bigint;
  stakingBalance: bigint;
  stakingOwes: bigint;
  consensusBalance: bigint;
  consensusOwes: bigint;
}

/** Reads the invariants' terms. Positions, hotkeys and seats are found through the contracts' events. */
export async function solvency(env: Env): Promise<Solvency> {
  const transfers = await env.token.queryFilter(env.token.filters.Transfer());
  const mints = transfers.filter((t) => t.args.from === ZERO);
  const genesis = mints[0].args.value; // the constructor's genesis mint
  const burned = transfers.filter((t) => t.args.to === ZERO).reduce((a, t) => a + t.args.value, 0n);
  const minted = await env.emission.totalMinted();
  const mintedByEvents = mints.slice(1).reduce((a, t) => a + t.args.value, 0n);
  expect(mintedByEvents, "every mint after genesis is Emission's").to.equal(minted);

  // Staking owes every position its stake and claimable rewards, every unbonding entry, every hotkey its commission.
  const staked = await env.staking.queryFilter(env.staking.filters.Staked());
  const pairs = new Map<string, [string, string]>();
  const hotkeys = new Set<string>();
  const stakers = new Set<string>();
  for (const l of staked) {
    pairs.set(`${l.args.staker}/${l.args.hotkey}`, [l.args.staker, l.args.hotkey]);
    hotkeys.add(l.args.hotkey);
    stakers.add(l.args.staker);
  }
  for (const l of await env.staking.queryFilter(env.staking.filters.RewardsDistributed())) hotkeys.add(l.args.hotkey);
  let stakingOwes = await env.staking.totalUnbonding();
  for (const [staker, hotkey] of pairs.values()) {
    const [amount, pending] = await env.staking.positionOf(staker, hotkey);
    stakingOwes += amount + pending;
  }
  for (const hk of hotkeys) stakingOwes += (await env.staking.hotkeyInfo(hk))[2];
  let positionsTotal = 0n;
  for (const [staker, hotkey] of pairs.values()) positionsTotal += (await env.staking.positionOf(staker, hotkey))[0];
  expect(positionsTotal, "Σ positions = totalStaked").to.equal(await env.staking.totalStaked());

  // Consensus owes every miner seat's ledger and every hotkey's claimable removed-seat rewards.
  const regs = await env.neurons.queryFilter(env.neurons.filters.NeuronRegistered());
  let consensusOwes = 0n;
  const seen = new Set<string>();
  const claimers = new Set<string>();
  for (const r of regs) {
    claimers.add(r.args.hotkey);
    if (r.args.role !== 0n) continue;
    const key = `${r.args.brainId}/${r.args.uid}`;
    if (seen.has(key)) continue;
    seen.add(key);
    consensusOwes += await env.consensus.minerPending(r.args.brainId, r.args.uid);
  }
  for (const a of claimers) consensusOwes += await env.consensus.claimable(a);
  return {
    genesis,
    burned,
    minted,
    supply: await env.token.totalSupply(),
    stakingBalance: await env.token.balanceOf(await env.staking.getAddress()),
    stakingOwes,
    consensusBalance: await env.token.balanceOf(await env.consensus.getAddress()),
    consensusOwes,
  };
}

/** Asserts total supply = genesis − burned + minted, and that Staking and Consensus each hold what they owe. Emission
 *  and BrainRegistry hold no CBR (they mint to recipients and burn from the payer). */
export async function expectSolvent(env: Env, label = ""): Promise<Solvency> {
  const s = await solvency(env);
  const at = label ? ` (${label})` : "";
  expect(s.supply, `total supply = genesis − burned + minted${at}`).to.equal(s.genesis - s.burned + s.minted);
  expect(s.stakingBalance, `Staking holds what it owes${at}`).to.be.gte(s.stakingOwes);
  expect(s.consensusBalance, `Consensus holds what it owes${at}`).to.be.gte(s.consensusOwes);
  for (const c of [env.emission, env.brains]) {
    expect(await env.token.balanceOf(await c.getAddress()), `${await c.getAddress()} holds no CBR${at}`).to.equal(0n);
  }
  return s;
}

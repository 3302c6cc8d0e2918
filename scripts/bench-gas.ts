/**
 * Gas bench: one Brain with 256 miners × 32 validators, dense random weights, two consecutive epochs settled in
 * chunks. Prints a table and writes bench/results/gas.json.
 *   npm run bench:gas            (= hardhat run scripts/bench-gas.ts; in-process Hardhat EVM)
 *   BENCH_CHUNK=128 npm run bench:gas   (miner-steps per call in the chunked round; see Consensus.settle)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const HELP = `usage: npm run bench:gas
Registers 256 miners and 32 validators in one Brain, commits and reveals dense weights for four epochs, settles the
first two in one call each, the third in chunks of BENCH_CHUNK miner-steps (default 128) and the fourth (exact stake
ties on every miner: the median's slow path) in one call, and writes bench/results/gas.json.
Targets (DESIGN.md §7, issue 11): settlement total ≤ 10,000,000 gas (≤ 12,000,000 with the issue 11 fixes, each fix's
cost listed), chunked transactions ≤ 6,000,000, no transaction above 15,000,000.`;

const TOTAL_TARGET = 10_000_000n;
const TX_TARGET = 15_000_000n;
// Issue 11: if the fixes make 10 M impossible, ≤ 12 M with each fix's cost listed, and chunked transactions ≤ 6 M.
const TOTAL_WITH_FIXES = 12_000_000n;
const CHUNK_TX_TARGET = 6_000_000n;
// The tie round can exceed one transaction's budget: it is settled in chunks of this many miner-steps.
const TIE_CHUNK = 64;
const FIX_COSTS = [
  { fix: "baseline (main 65199a5)", gas: 0, total: 9_965_266 },
  { fix: "rule 1 commit binding (no settlement cost)", gas: 0, total: 9_965_266 },
  { fix: "rules 2+4 voting stake = min(stakeAt(B_e - 1), totalStake), minimum stake", gas: 204_998, total: 10_170_264 },
  { fix: "rule 5 seat takeover (fresh-seat ring)", gas: 4_180, total: 10_174_444 },
  { fix: "rule 10 exact median, abstention, bonds per unit of stake", gas: 2_786, total: 10_177_230 },
  { fix: "rule 10 exact SWAR path for stakes with a common unit (gcd at settlement start)", gas: 35_509, total: 10_212_739 },
  { fix: "median: comparison guard bit pre-set in the dense weight vectors, gcd in assembly", gas: -480_814, total: 9_731_925 },
  // the exact-tie worst case (settle_256x32_exact_ties_total_gas) fell from 18,790,343 to 14,461,619 with this one
  { fix: "median: several undecided lanes in a step are decided together on 64-bit lanes", gas: 59_392, total: 9_791_317 },
  // measured on the merged main (9,761,992) and after each fix on branch contracts
  { fix: "seat change: a left holder is paid its work (miner records, kept reveals); unchecked bounded arithmetic", gas: -33_601, total: 9_728_391 },
  { fix: "warm-up by epoch start: activation of the stake in place at distribution (first epoch: all 32 hotkeys)", gas: 221_684, total: 9_950_075 },
  { fix: "seat change: bond lanes of a left miner's seat reset after its epoch (one read per group)", gas: 5_405, total: 9_955_480 },
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    console.log(HELP);
    return;
  }
  // Loaded lazily so that `--help` works without starting Hardhat.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hre = require("hardhat");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cliProgress = require("cli-progress");
  const h = await import("../test/contracts/helpers");
  const chunk = Number(process.env.BENCH_CHUNK ?? "128");
  if (!Number.isInteger(chunk) || chunk <= 0) throw new Error("BENCH_CHUNK must be a positive integer");
  const M = 256;
  const V = 32;
  const env = await h.deployEnv();
  const brainId = await h.mintBrain(env, env.deployer, {
    maxMiners: M,
    maxValidators: V,
    tempo: 100,
    minValidatorStake: 100n * h.CBR,
  });

  const bar = new cliProgress.SingleBar({ format: "registering {bar} {value}/{total}" }, cliProgress.Presets.shades_classic);
  bar.start(M + V, 0);
  const miners = await h.wallets(M);
  const validators = await h.wallets(V);
  for (let j = 0; j < M; j++) {
    await h.registerMiner(env, brainId, miners[j], j);
    bar.increment();
  }
  for (let i = 0; i < V; i++) {
    await h.registerValidator(env, brainId, validators[i], i, (100n + BigInt(i) * 37n) * h.CBR);
    bar.increment();
  }
  bar.stop();

  // A delegation by a fresh staker (first position on that hotkey).
  const [delegator] = await h.wallets(1);
  await (await env.token.transfer(await delegator.getAddress(), 50n * h.CBR)).wait();
  await (await env.token.connect(delegator).approve(await env.staking.getAddress(), 50n * h.CBR)).wait();
  const stakeRc = await (await env.staking.connect(delegator).stake(await validators[0].getAddress(), 50n * h.CBR)).wait();
  const stakeGas = stakeRc!.gasUsed;

  const rand = rng(42);
  const uids = Array.from({ length: M }, (_, j) => j);
  const epochs: { epoch: bigint; commit: bigint[]; reveal: bigint[]; settle: bigint[] }[] = [];
  // rounds 1–2: the whole settlement in one call (steps ≥ 256); round 3: chunked, BENCH_CHUNK steps per call
  const stepsOf = [M, M, chunk, TIE_CHUNK];
  // Round 4 is the median's worst case: validators i ∈ [0, 8) ∪ [24, 32) hold exactly half of the stake
  // ((100 + 37i) + (100 + 37(31 − i)) = 1,347 CBR per pair; validator 0's 50 CBR delegation is matched on validator 8,
  // and 1 gwei more on validators 1 and 8 leaves no common stake unit, so the median takes its approximate path) and
  // weight every miner equally, the others weight only miner 0: every miner's consensus test is an exact tie on the
  // low weight bits and is decided by the exact (gwei) fallback.
  const tieHalf = (i: number) => i < 8 || i >= 24;
  for (let round = 0; round < 4; round++) {
    // the next epoch whose whole commit window is ahead
    const epoch = (await env.consensus.epochAt(brainId, BigInt(await hre.ethers.provider.getBlockNumber()) + 1n)) + 1n;
    const base = uids.map(() => 1 + Math.floor(rand() * 60000));
    const reveals = validators.map((_, i) =>
      round === 3
        ? tieHalf(i)
          ? { uids, weights: uids.map(() => 1), salt: h.salt(round * 100 + i) }
          : { uids: [0], weights: [1], salt: h.salt(round * 100 + i) }
        : {
            uids,
            weights: base.map((b) => Math.max(1, Math.min(65535, Math.round(b * (0.8 + 0.4 * rand()))))),
            salt: h.salt(round * 100 + i),
          },
    );
    if (round === 3) {
      await h.selfStake(env, validators[8], 50n * h.CBR + 10n ** 9n);
      await h.selfStake(env, validators[1], 10n ** 9n);
    }
    await h.gotoCommitWindow(env, brainId, epoch);
    const commit = await h.commitAll(env, brainId, epoch, validators, reveals);
    await h.gotoRevealWindow(env, brainId, epoch);
    const reveal = await h.revealAll(env, brainId, epoch, validators, reveals);
    await h.gotoSettle(env, brainId, epoch);
    const settle = await h.settleAll(env, brainId, epoch, stepsOf[round]);
    epochs.push({ epoch, commit, reveal, settle });
  }

  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  const max = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a), 0n);
  const single = epochs.slice(0, 2);
  const tieInc = await env.consensus.minerIncentives(brainId);
  if (tieInc[1] === 0n) throw new Error("the tie round did not produce the exact-tie consensus (miner 1 has no incentive)");
  const totals = single.map((e) => sum(e.settle));
  const result = {
    settle_256x32_total_gas: Number(max(totals)),
    settle_256x32_max_tx_gas: Number(max(single.flatMap((e) => e.settle))),
    settle_256x32_first_epoch_total_gas: Number(totals[0]),
    settle_256x32_second_epoch_total_gas: Number(totals[1]),
    settle_txs_per_epoch: epochs[0].settle.length,
    settle_256x32_chunked_total_gas: Number(sum(epochs[2].settle)),
    settle_256x32_chunked_max_tx_gas: Number(max(epochs[2].settle)),
    settle_chunked_txs: epochs[2].settle.length,
    settle_chunk_steps: chunk,
    commit_gas: Number(max(epochs.flatMap((e) => e.commit))),
    reveal_gas: Number(max(epochs.flatMap((e) => e.reveal))),
    reveal_256_weights_first_gas: Number(max(epochs[0].reveal)),
    stake_gas: Number(stakeGas),
    settle_256x32_exact_ties_total_gas: Number(sum(epochs[3].settle)),
    settle_256x32_exact_ties_max_tx_gas: Number(max(epochs[3].settle)),
    settle_exact_ties_chunk_steps: TIE_CHUNK,
    // Issue 11 fixes, each measured by this bench at the commit that made it (branch consensus): single-call
    // settlement of 256 × 32 before → after.
    fix_costs: FIX_COSTS,
    targets: { total: Number(TOTAL_TARGET), tx: Number(TX_TARGET), total_with_fixes: Number(TOTAL_WITH_FIXES), chunk_tx: Number(CHUNK_TX_TARGET) },
    note: "Hardhat in-process EVM (cancun), solc 0.8.30 optimizer 200 runs; gas is deterministic, not timing.",
  };
  const rows: [string, number | string][] = [
    ["settlement total, 256×32 (worst of 2 epochs)", result.settle_256x32_total_gas],
    ["  epoch 1 (first) total", result.settle_256x32_first_epoch_total_gas],
    ["  epoch 2 total", result.settle_256x32_second_epoch_total_gas],
    ["settlement max single tx", result.settle_256x32_max_tx_gas],
    ["settle txs per epoch (single call)", result.settle_txs_per_epoch],
    [`chunked settlement total (${chunk} steps/tx, ${result.settle_chunked_txs} txs)`, result.settle_256x32_chunked_total_gas],
    ["chunked settlement max tx", result.settle_256x32_chunked_max_tx_gas],
    ["commit (max)", result.commit_gas],
    ["reveal 256 weights (max)", result.reveal_gas],
    ["stake (delegation, new position)", result.stake_gas],
    [`exact-tie worst case for the median, total (${TIE_CHUNK} steps/tx)`, result.settle_256x32_exact_ties_total_gas],
    ["exact-tie worst case, max tx", result.settle_256x32_exact_ties_max_tx_gas],
  ];
  console.log("\n| measure | gas |\n|---|---:|");
  for (const [k, v] of rows) console.log(`| ${k} | ${typeof v === "number" ? v.toLocaleString("en-US") : v} |`);
  const ok =
    max(totals) <= TOTAL_WITH_FIXES &&
    max(single.flatMap((e) => e.settle)) <= TX_TARGET &&
    result.settle_256x32_chunked_max_tx_gas <= Number(CHUNK_TX_TARGET);
  console.log("(single-call settlement is the target path; chunked calls add rank-scratch storage and a payment pass)");
  for (const f of FIX_COSTS) console.log(`fix ${f.fix}: ${f.gas >= 0 ? "+" : ""}${f.gas.toLocaleString("en-US")} gas`);
  console.log(
    `\ntargets (total ≤ 10,000,000: ${max(totals) <= TOTAL_TARGET ? "MET" : "NOT MET"}; with the issue 11 fixes ≤ ` +
      `12,000,000 and chunked tx ≤ 6,000,000, any tx ≤ 15,000,000): ${ok ? "MET" : "NOT MET"}`,
  );
  const dir = join(hre.config.paths.root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "gas.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(`wrote ${join(dir, "gas.json")}`);
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

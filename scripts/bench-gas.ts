/**
 * Gas bench: one Brain with 256 miners × 32 validators, dense random weights, two consecutive epochs settled in
 * chunks. Prints a table and writes bench/results/gas.json.
 *   npm run bench:gas            (= hardhat run scripts/bench-gas.ts; in-process Hardhat EVM)
 *   BENCH_CHUNK=128 npm run bench:gas   (miner-steps per call in the chunked round; see Consensus.settle)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const HELP = `usage: npm run bench:gas
Registers 256 miners and 32 validators in one Brain, commits and reveals dense weights for three epochs, settles the
first two in one call each and the third in chunks of BENCH_CHUNK miner-steps (default 128), and writes
bench/results/gas.json.
Targets (DESIGN.md §7): settlement total ≤ 10,000,000 gas and no transaction above 15,000,000.`;

const TOTAL_TARGET = 10_000_000n;
const TX_TARGET = 15_000_000n;

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
  const stepsOf = [M, M, chunk];
  for (let round = 0; round < 3; round++) {
    // the next epoch whose whole commit window is ahead
    const epoch = (await env.consensus.epochAt(brainId, BigInt(await hre.ethers.provider.getBlockNumber()) + 1n)) + 1n;
    const base = uids.map(() => 1 + Math.floor(rand() * 60000));
    const reveals = validators.map((_, i) => ({
      uids,
      weights: base.map((b) => Math.max(1, Math.min(65535, Math.round(b * (0.8 + 0.4 * rand()))))),
      salt: h.salt(round * 100 + i),
    }));
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
    targets: { total: Number(TOTAL_TARGET), tx: Number(TX_TARGET) },
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
  ];
  console.log("\n| measure | gas |\n|---|---:|");
  for (const [k, v] of rows) console.log(`| ${k} | ${typeof v === "number" ? v.toLocaleString("en-US") : v} |`);
  const ok = max(totals) <= TOTAL_TARGET && max(epochs.flatMap((e) => e.settle)) <= TX_TARGET;
  console.log("(single-call settlement is the target path; chunked calls add rank-scratch storage and a payment pass)");
  console.log(`\ntargets (total ≤ 10,000,000, tx ≤ 15,000,000): ${ok ? "MET" : "NOT MET"}`);
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

import "../core/polyfills.ts";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { custom, type Address, type EIP1193Provider } from "viem";
import { loadBrainModel, loadClientMixture, type BrainModel } from "../client/brain-model.ts";
import { COMPRESSED_WORKLOAD, sampleArrivals, sampleRequest } from "../client/workload.ts";
import { rankMiners } from "../client/miners.ts";
import { generate, type GeneratedWord } from "../client/generate.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { MinerAddress } from "../client/transport.ts";
import { ChainClient } from "../chain/client.ts";
import { parseDeployment, type DeploymentFile } from "../chain/deployment.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { MinerAgent } from "../miner/agent.ts";
import { ONE_HOST_NODE_LIMITS, oneHostServiceLimits } from "../miner/one-host.ts";
import { CollusionRing, RingPolicy, ShapePolicy, TailPolicy, type CheatPolicy } from "../miner/cheat.ts";
import { PlaintextReference, probeSession, samplePrompt, validationWords } from "../validator/challenge.ts";
import { createCerberusNode } from "../net/node.ts";
import { ValidatorAgent } from "../validator/agent.ts";
import { median } from "../core/stats.ts";
import { detokenize, displayToken } from "../model/vocab.ts";
import { isWrong, scoringFor } from "../validator/scoring.ts";

const CBR = 10n ** 18n;

/**
 * One machine stands in for four miners, two validators and the users: queues are longer than a real miner's, so
 * users and probes alike (one policy, as the protocol requires) accept longer stated waits than the defaults.
 */
/** Request timeouts of the demo's users and probes alike: 2 cores stand in for eight miners and all their clients. */
const DEMO_TRANSPORT = { stepTimeoutMs: 180_000, openTimeoutMs: 240_000 } as const;

const DEMO_CLIENT: ClientPolicy = {
  selection: { maxQueueWaitMs: 60_000, healthTimeoutMs: 30_000 }, busy: { maxBusyWaitMs: 60_000, busyBudgetMs: 120_000 },
};

export interface DemoOptions {
  prompt: string;
  words: number;
  /** Fraction of wrong answers of the dishonest miner (the third one). */
  faultyRate: number;
  /** Start a fourth miner with `--cheat-users`: honest only to sessions it believes are validator probes. */
  cheatUsers: boolean;
  /**
   * Start the miners that cheat with each probe leak (default true): a tail cheater (sessions opened late in the
   * epoch), a colluding pair (peers seen at both of its seats) and a model-mismatch cheater (steps past the fourth, peers
   * seen before: what a client off the model would send).
   */
  leakCheaters?: boolean;
  /** The epoch's traffic (users and probes) is spread over this much wall time, the chain mining along (default 120 s). */
  epochWindowMs?: number;
  /** Probe requests per miner per validator. */
  challengesPerMiner: number;
  /** Simulated user requests per miner, checked against the plaintext reference by the demo (default 3). */
  userSessionsPerMiner?: number;
  /** Worker threads per miner (0 = main thread). */
  minerThreads: number;
  modelDir: string;
  /**
   * The second Brain, hosting the transformer (models/brown-tx.*): minted beside the MLP's with its own two miners
   * (the second one answers half its rounds wrongly) and two validators; a user generates from it and one epoch is
   * scored and settled. Default: when the model files exist.
   */
  transformer?: boolean;
  /** Words the user generates from the transformer Brain (default 8). */
  transformerWords?: number;
  seed: number;
  /** Where human-readable progress goes (default stdout). */
  out?: (line: string) => void;
  logger?: Logger;
}

export interface DemoSummary {
  /** The deployments file of the demo's chain (for `--serve`: the dashboard reads it). */
  deployment: DeploymentFile;
  brainId: string;
  epoch: string;
  prompt: string;
  text: string;
  miners: {
    uid: number;
    /** "honest", "faulty", "cheat-users", "tail", "ring" (one of a colluding pair) or "shape" (model mismatch). */
    role: string;
    incentive: number; reward: string; peerId: string;
    /** Steps of the simulated users' sessions this miner served, and the share it corrupted (provably wrong answers). */
    user_steps: number; user_corrupted_rate: number;
    /** Probe steps of all validators on this miner, and the share they scored wrong. */
    validator_steps: number; validator_wrong_rate: number;
  }[];
  validators: { uid: number; dividends: number; reward: string }[];
  generated_words: number;
  ms_per_token_median: number;
  bytes_up_per_token: number;
  bytes_down_per_token: number;
  key_upload_bytes: number;
  /** Sessions the user's request was shaped into, and the padding words run and discarded. */
  sessions: number;
  padding_words: number;
  epoch_emission: string;
  epoch_paid_total: string;
  paid: { miners: string; validators: string; owner_and_dust: string };
  balances: { role: string; address: string; cbr: string }[];
  /** The transformer Brain, when it ran. */
  transformer?: {
    brainId: string; epoch: string; model: string; plan: string; rounds: number; text: string; generated_words: number;
    ms_per_word_median: number; bytes_up_per_word: number; bytes_down_per_word: number; key_upload_bytes: number;
    sessions: number; padding_words: number;
    miners: { uid: number; faulty: boolean; cheat_users: boolean; incentive: number; validator_steps: number; validator_wrong_rate: number }[];
    validators: { uid: number; dividends: number }[];
  };
  seconds: number;
}

interface HardhatLike {
  network: { provider: EIP1193Provider & { request(args: { method: string; params?: unknown[] }): Promise<unknown> } };
}

/**
 * `npm start`: a whole Cerberus network in one process on an in-process Hardhat chain. Deploy → mint a Brain pinned
 * to the committed model (modelHash = sha256 of the ONNX, fheParamsHash = the FHE plan id) → 3 miners (the last
 * dishonest) and 2 validators as separate libp2p nodes on 127.0.0.1 → a client generates words from a prompt under
 * encryption → one full epoch: challenges, commit, reveal, chunked settlement → summary.
 *
 * Blocks: Hardhat mines one block per transaction; between the phases of the epoch the demo fast-forwards the chain
 * to the next window (hardhat_mine), which a live chain would reach by waiting.
 */
export async function runDemo(hre: HardhatLike, deploy: () => Promise<unknown>, options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const out = options.out ?? ((line: string) => process.stdout.write(line + "\n"));
  const log = options.logger ?? createLogger("demo");
  const provider = hre.network.provider;
  const mineTo = async (block: bigint, client: ChainClient) => {
    const now = await client.blockNumber();
    if (block > now) await provider.request({ method: "hardhat_mine", params: [`0x${(block - now).toString(16)}`] });
  };

  out("① deploying contracts on the in-process Hardhat chain …");
  const deployment: DeploymentFile = parseDeployment(JSON.parse(JSON.stringify(await deploy())));
  const accounts = (await provider.request({ method: "eth_accounts" })) as Address[];
  const [ownerAddr, m0, m1, m2, v0, v1, userAddr, delegatorAddr, cheaterAddr] = accounts as Address[] as
    [Address, Address, Address, Address, Address, Address, Address, Address, Address];
  const transport = custom(provider);
  const clientFor = (account: Address) => new ChainClient({ transport, deployment, account, logger: log });
  const owner = clientFor(ownerAddr);

  const model = loadBrainModel({ dir: options.modelDir });
  const brainId = await owner.mintBrain({
    modelHash: model.modelHash, fheParamsHash: model.planHash, uri: `file:${options.modelDir}/${model.name}.onnx`, tempo: 20,
    limits: { maxMiners: 16, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 1_000n * CBR, immunityPeriod: 10 },
  });
  out(`   Brain #${brainId} pins model ${model.modelHash.slice(0, 18)}… and FHE plan ${model.planHash.slice(0, 18)}… ` +
    `(${model.descriptor.params}, ${model.descriptor.galoisSteps.length} rotation keys)`);

  // Validators need stake: own stake for both, plus a delegator on the second.
  for (const [addr, amount] of [[v0, 3_000n], [v1, 2_000n], [delegatorAddr, 1_500n]] as const) {
    await owner.transfer(addr, amount * CBR);
  }
  await clientFor(v0).stake(v0, 3_000n * CBR);
  await clientFor(v1).stake(v1, 1_000n * CBR);

  /** One epoch of a Brain: its validators probe and commit, reveal in the next window, one of them settles. */
  const runEpoch = async (id: bigint, validators: ValidatorAgent[]) => {
    const w0 = await owner.windows(id, await owner.epochAt(id, await owner.blockNumber()));
    await mineTo(w0.revealFrom, owner); // start from a fresh epoch so every commit lands in the same one
    const commits = await Promise.all(validators.map((v) => v.scoreAndCommit()));
    const epoch = commits.find((c) => c !== undefined)?.epoch;
    if (epoch === undefined) throw new Error(`no validator of Brain #${id} committed weights`);
    for (const [k, c] of commits.entries()) {
      out(`   validator ${k}: ` + (c?.scores.map((sc) => `miner ${sc.uid} ${sc.correct}/${sc.challenges}`).join(", ") ?? "nothing committed"));
    }
    const w = await owner.windows(id, epoch);
    await mineTo(w.revealFrom, owner);
    out("   reveal window: validators reveal …");
    for (const v of validators) await v.revealDue();
    await mineTo(w.revealTo, owner);
    out("   settlement (callable by anyone; one call here, chunkable for large Brains) …");
    const settleFrom = await owner.blockNumber();
    await validators[0]!.settle(epoch);
    const payouts = await owner.epochPayouts(id, epoch, settleFrom);
    if (payouts === undefined) throw new Error(`epoch ${epoch} of Brain #${id} did not settle`);
    return { epoch, commits, payouts };
  };
  const probeRates = (commits: readonly ({ scores: readonly { uid: number; challenges: number; correct: number }[] } | undefined)[]): Map<number, { steps: number; wrong: number }> => {
    const probeSteps = new Map<number, { steps: number; wrong: number }>();
    for (const c of commits) {
      for (const sc of c?.scores ?? []) {
        const t = probeSteps.get(sc.uid) ?? { steps: 0, wrong: 0 };
        t.steps += sc.challenges;
        t.wrong += sc.challenges - sc.correct;
        probeSteps.set(sc.uid, t);
      }
    }
    return probeSteps;
  };

  const dataRoot = mkdtempSync(join(tmpdir(), "cerberus-demo-"));
  const minerAgents: MinerAgent[] = [];
  const validatorAgents: ValidatorAgent[] = [];
  const txMiners: MinerAgent[] = [];
  const txValidators: ValidatorAgent[] = [];
  // The demo's user shapes its requests as the demo's validators shape their probes (the compressed model).
  const userClient = { ...DEMO_CLIENT, workload: COMPRESSED_WORKLOAD, newNode: () => createCerberusNode({ listen: [] }) };
  try {
    const extra = accounts.slice(9, 13) as Address[];
    const tempo = 20;
    // Where in its epoch the chain is: what the tail cheater reads before each session.
    const blockInEpoch = async () => {
      const block = await owner.blockNumber();
      const w = await owner.windows(brainId, await owner.epochAt(brainId, block));
      return { block: Number(block - w.commitFrom), tempo };
    };
    const ring = new CollusionRing();
    const roles: { role: string; addr: Address; faulty?: boolean; cheatUsers?: boolean; policy?: CheatPolicy; ringSeat?: number }[] = [
      { role: "honest", addr: m0 }, { role: "honest", addr: m1 }, { role: "faulty", addr: m2, faulty: true },
      ...(options.cheatUsers ? [{ role: "cheat-users", addr: cheaterAddr, cheatUsers: true }] : []),
      ...(options.leakCheaters !== false ? [
        { role: "tail", addr: extra[0]!, policy: new TailPolicy(blockInEpoch, 0.6) },
        { role: "ring", addr: extra[1]!, policy: new RingPolicy(ring, 0), ringSeat: 0 },
        { role: "ring", addr: extra[2]!, policy: new RingPolicy(ring, 1), ringSeat: 1 },
        { role: "shape", addr: extra[3]!, policy: new ShapePolicy(4) },
      ] : []),
    ];
    const minerAccounts = roles.map((r) => r.addr);
    out(`② starting ${roles.length} miners: ${roles.map((r) => r.role).join(", ")} …`);
    for (const [k, r] of roles.entries()) {
      minerAgents.push(await MinerAgent.start({
        chain: clientFor(r.addr), brainId, modelDir: options.modelDir, dataDir: join(dataRoot, `miner-${k}`),
        threads: options.minerThreads, faultyRate: r.faulty === true ? options.faultyRate : 0, cheatUsers: r.cheatUsers === true,
        ...(r.policy !== undefined ? { cheatPolicy: r.policy } : {}),
        // One machine stands in for many: requests queue rather than being refused BUSY (a real miner sizes this
        // to its own cores), so probes overlapping on 2 cores do not count as a miner's failure.
        // Every user and probe dials from 127.0.0.1 here: the per-address caps that keep one host from taking a
        // real miner's connections and slots are lifted (nodes/miner/one-host.ts), as in the benchmarks.
        node: { ...ONE_HOST_NODE_LIMITS, inboundUpgradeTimeoutMs: 30_000 },
        service: { maxInflight: 32, maxQueueWaitMs: DEMO_CLIENT.busy!.maxBusyWaitMs!, ...oneHostServiceLimits({ maxInflight: 32 }),
          // The colluding pair pools what its two seats see: who asked each for health or a session.
          ...(r.ringSeat !== undefined ? { onRequest: (e: { peerId: string }) => ring.observe(r.ringSeat!, e.peerId) } : {}) },
        logger: log.child({ miner: k }),
      }));
      out(`   miner uid ${minerAgents[k]!.uid} ${minerAgents[k]!.peerId.slice(-10)}  ${r.role}` +
        `${r.faulty === true ? ` (--faulty-rate ${options.faultyRate})` : ""}`);
    }
    out("③ starting 2 validators …");
    const heldOut = validationWords();
    const windowMs = options.epochWindowMs ?? 120_000;
    let seed = options.seed;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const [k, addr] of [v0, v1].entries()) {
      validatorAgents.push(await ValidatorAgent.start({
        chain: clientFor(addr), brainId, heldOut, modelDir: options.modelDir, dataDir: join(dataRoot, `validator-${k}`),
        challengesPerMiner: options.challengesPerMiner, workload: COMPRESSED_WORKLOAD, probeWindowMs: windowMs, random,
        client: DEMO_CLIENT, transport: DEMO_TRANSPORT,
        logger: log.child({ validator: k }),
      }));
    }
    await clientFor(delegatorAddr).stake(v1, 1_500n * CBR);

    const seats = rankMiners((await owner.brain(brainId)).miners);
    const perMiner = options.userSessionsPerMiner ?? 3;
    const margin = BigInt(Math.max(2, Math.floor(tempo / 10)));
    const target = (await owner.epochAt(brainId, await owner.blockNumber())) + 1n;
    const wt = await owner.windows(brainId, target);
    // Each commit transaction mines a block here (automine): the traffic stops early enough for both to land.
    const [from, deadline] = [wt.commitFrom - margin, wt.revealFrom - margin - BigInt(validatorAgents.length)];
    out(`④ one epoch of traffic: ${perMiner * seats.length} user requests and both validators' probes ` +
      `(${options.challengesPerMiner} per miner each), spread over blocks ${from}–${deadline} (a whole epoch, the tail after ` +
      `the last commit deadline included) in ${windowMs / 1000} s; users and probes shape their requests into sessions ` +
      "and choose miners the same way");
    await mineTo(from, owner);
    // The chain moves while the traffic runs: one block per windowMs / tempo, up to the commit deadline.
    let ticking = true;
    const ticker = (async () => {
      const t0 = performance.now();
      while (ticking) {
        const due = from + BigInt(Math.floor((performance.now() - t0) / (windowMs / tempo)));
        await mineTo(due < deadline ? due : deadline, owner);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const [userTally, ...scored] = await Promise.all([
      simulatedUsers(model, seats, perMiner * seats.length, windowMs, validationWords(), random),
      ...validatorAgents.map((v) => v.score(target)),
    ]);
    ticking = false;
    await ticker;
    await mineTo(deadline, owner);
    out(`⑤ at the commit deadline (block ${deadline}) both validators commit what their probes found …`);
    const commits = await Promise.all(validatorAgents.map((v, k) =>
      scored[k]!.uids.length === 0 ? Promise.resolve(undefined) : v.commitOrNext(target, scored[k]!)));
    const epoch = commits.find((c) => c !== undefined)?.epoch;
    if (epoch === undefined) throw new Error("no validator committed weights");
    for (const [k, c] of commits.entries()) {
      out(`   validator ${k}: ` + (c?.scores.map((s) => `miner ${s.uid} ${s.correct}/${s.challenges}${s.wrong > 0 ? " WRONG" : ""}`)
        .join(", ") ?? "nothing committed"));
    }
    const w = await owner.windows(brainId, epoch);
    await mineTo(w.revealFrom, owner);
    out("⑥ reveal window: validators reveal …");
    for (const v of validatorAgents) await v.revealDue();
    await mineTo(w.revealTo, owner);
    out("⑦ settlement (callable by anyone; one call here, chunkable for large Brains) …");
    const settleFrom = await owner.blockNumber();
    await validatorAgents[0]!.settle(epoch);
    const payouts = await owner.epochPayouts(brainId, epoch, settleFrom);
    if (payouts === undefined) throw new Error(`epoch ${epoch} did not settle`);

    const after = await owner.brain(brainId);
    out("⑧ everyone claims: miners their seats' incentive, validators and the delegator their staking rewards …");
    for (const [k, m] of minerAgents.entries()) {
      const seat = after.miners.find((x) => x.uid === m.uid);
      if (seat !== undefined && seat.pendingReward > 0n) await clientFor(minerAccounts[k]!).claimMiner(brainId, m.uid);
    }
    for (const [staker, hotkey] of [[v0, v0], [v1, v1], [delegatorAddr, v1]] as const) {
      const [, pending] = await owner.positionOf(staker, hotkey);
      if (pending > 0n) await clientFor(staker).claimRewards(hotkey);
    }
    for (const v of [v0, v1]) {
      const [, , commission] = await owner.hotkeyInfo(v);
      if (commission > 0n) await clientFor(v).claimCommission();
    }
    // The user's client samples from the shipped mixture (MLP + KN trigram + cache, nodes/model/mixture.ts).
    const mixed = loadClientMixture(model, { dir: options.modelDir });
    out(`⑨ a user generates ${options.words} words from "${options.prompt}" (encrypted; the miners see ciphertexts only), ` +
      "choosing miners by the incentive they just earned" +
      (mixed !== undefined ? `; client mixture (MLP + KN trigram + cache) built in ${(mixed.loadMs / 1000).toFixed(1)} s` : "; no client mixture: MLP alone"));
    const result = await generate({
      ...userClient, model, miners: rankMiners(after.miners), prompt: options.prompt,
      words: options.words, seed: options.seed, ...(mixed !== undefined ? { mixture: mixed.mixture } : {}),
      onWord: (w: GeneratedWord) => out(progressLine(w, options.words)),
    });
    out(`   → ${detokenize([options.prompt, ...result.words.map((w) => w.word)])}`);
    const ms = result.words.map((w) => w.ms);
    const probeSteps = probeRates(commits);
    const rate = (t: { steps: number; wrong: number } | undefined) => (t === undefined || t.steps === 0 ? 0 : +(t.wrong / t.steps).toFixed(3));
    // The second Brain: the transformer, its own miners and validators, one user, one epoch.
    const txOn = options.transformer ?? existsSync(join(options.modelDir, "brown-tx.onnx"));
    const transformer = txOn ? await transformerBrain() : undefined;

    const summary: DemoSummary = {
      deployment,
      brainId: brainId.toString(), epoch: epoch.toString(), prompt: options.prompt, text: result.text,
      miners: after.miners.map((m) => ({
        uid: m.uid, role: roles[minerAgents.findIndex((a) => a.uid === m.uid)]?.role ?? "?",
        incentive: m.incentive, reward: fmt(m.pendingReward), peerId: m.peerId,
        user_steps: userTally.get(m.peerId)?.steps ?? 0, user_corrupted_rate: rate(userTally.get(m.peerId)),
        validator_steps: probeSteps.get(m.uid)?.steps ?? 0, validator_wrong_rate: rate(probeSteps.get(m.uid)),
      })),
      validators: after.validators.map((v) => ({
        uid: v.uid, dividends: v.dividends, reward: fmt(payouts.validatorRewards.get(v.hotkey) ?? 0n),
      })),
      generated_words: result.words.length,
      ms_per_token_median: Math.round(median(ms)),
      bytes_up_per_token: Math.round(mean(result.words.map((x) => x.bytesUp))),
      bytes_down_per_token: Math.round(mean(result.words.map((x) => x.bytesDown))),
      key_upload_bytes: result.keyBytes, sessions: result.sessions, padding_words: result.paddingWords,
      epoch_emission: fmt(payouts.emission),
      epoch_paid_total: fmt(payouts.minerPaid + payouts.validatorPaid + payouts.ownerPaid),
      paid: { miners: fmt(payouts.minerPaid), validators: fmt(payouts.validatorPaid), owner_and_dust: fmt(payouts.ownerPaid) },
      balances: await Promise.all(([
        ["brain owner", ownerAddr], ...roles.map((r, k) => [`miner ${k + 1} (${r.role})`, r.addr] as const),
        ["validator 1", v0], ["validator 2", v1], ["delegator ¹", delegatorAddr], ["user", userAddr],
      ] as const).map(async ([role, address]) => ({ role, address, cbr: fmt(await owner.balanceOf(address)) }))),
      ...(transformer !== undefined ? { transformer } : {}),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    return summary;

    async function transformerBrain(): Promise<NonNullable<DemoSummary["transformer"]>> {
      const txModel = loadBrainModel({ dir: options.modelDir, name: "brown-tx" });
      if (txModel.kind !== "transformer") throw new Error("models/brown-tx is not a transformer");
      const [tm0, tm1, tv0, tv1, tm2] = accounts.slice(13, 18) as [Address, Address, Address, Address, Address];
      const txBrain = await owner.mintBrain({
        modelHash: txModel.modelHash, fheParamsHash: txModel.planHash, uri: `file:${options.modelDir}/${txModel.name}.onnx`, tempo: 20,
        limits: { maxMiners: 16, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 1_000n * CBR, immunityPeriod: 10 },
      });
      const d = txModel.descriptor;
      out(`⑩ second Brain #${txBrain}: the transformer ${txModel.modelHash.slice(0, 18)}…, plan ${txModel.planHash.slice(0, 18)}… ` +
        `(${d.rounds.length} rounds a word, ${d.params}, ${d.galoisSteps.length} rotation keys); miners: honest, faulty (half its rounds wrong)` +
        `${options.cheatUsers ? ", a user cheater (honest only to what it takes for probes)" : ""}; 2 validators`);
      for (const [k, addr] of (options.cheatUsers ? [tm0, tm1, tm2] : [tm0, tm1]).entries()) {
        const agent = await MinerAgent.start({
          chain: clientFor(addr), brainId: txBrain, modelDir: options.modelDir, modelName: "brown-tx", dataDir: join(dataRoot, `tx-miner-${k}`),
          threads: 1, faultyRate: k === 1 ? options.faultyRate : 0, cheatUsers: k === 2,
          node: { ...ONE_HOST_NODE_LIMITS, inboundUpgradeTimeoutMs: 30_000 },
          service: { maxInflight: 32, maxQueueWaitMs: DEMO_CLIENT.busy!.maxBusyWaitMs!, ...oneHostServiceLimits({ maxInflight: 32 }) },
          logger: log.child({ txMiner: k }),
        });
        minerAgents.push(agent);
        txMiners.push(agent);
      }
      for (const addr of [tv0, tv1]) { await owner.transfer(addr, 2_000n * CBR); await clientFor(addr).stake(addr, 1_500n * CBR); }
      for (const [k, addr] of [tv0, tv1].entries()) {
        const v = await ValidatorAgent.start({
          chain: clientFor(addr), brainId: txBrain, heldOut: validationWords(), modelDir: options.modelDir, modelName: "brown-tx",
          dataDir: join(dataRoot, `tx-validator-${k}`), challengesPerMiner: Math.min(2, options.challengesPerMiner), workload: COMPRESSED_WORKLOAD,
          probeWindowMs: 15_000, random, client: DEMO_CLIENT, logger: log.child({ txValidator: k }),
        });
        validatorAgents.push(v);
        txValidators.push(v);
      }
      const txWords = options.transformerWords ?? 8;
      const txMixed = loadClientMixture(txModel, { dir: options.modelDir });
      out(`   client: ${txWords} words from "${options.prompt}" through the transformer Brain (the client applies the softmax between rounds)`);
      const txSeats = rankMiners((await owner.brain(txBrain)).miners); // no incentive yet: by uid, the honest miner first
      const txResult = await generate({
        ...userClient, model: txModel, miners: txSeats.slice(0, 1), prompt: options.prompt,
        words: txWords, seed: options.seed, ...(txMixed !== undefined ? { mixture: txMixed.mixture } : {}),
        onWord: (w: GeneratedWord) => out(progressLine(w, txWords)),
      });
      out(`   → ${detokenize([options.prompt, ...txResult.words.map((w) => w.word)])}`);
      out("   epoch of the transformer Brain: its validators probe both miners (every round checked), commit, reveal, settle …");
      const e = await runEpoch(txBrain, txValidators);
      const txAfter = await owner.brain(txBrain);
      const steps = probeRates(e.commits);
      return {
        brainId: txBrain.toString(), epoch: e.epoch.toString(), model: txModel.name, plan: d.params, rounds: d.rounds.length,
        text: txResult.text, generated_words: txResult.words.length,
        ms_per_word_median: Math.round(median(txResult.words.map((w) => w.ms))),
        bytes_up_per_word: Math.round(mean(txResult.words.map((w) => w.bytesUp))),
        bytes_down_per_word: Math.round(mean(txResult.words.map((w) => w.bytesDown))),
        key_upload_bytes: txResult.keyBytes, sessions: txResult.sessions, padding_words: txResult.paddingWords,
        miners: txAfter.miners.map((m) => ({
          uid: m.uid, faulty: m.uid === txMiners[1]!.uid, cheat_users: m.uid === txMiners[2]?.uid, incentive: m.incentive,
          validator_steps: steps.get(m.uid)?.steps ?? 0, validator_wrong_rate: rate(steps.get(m.uid)),
        })),
        validators: txAfter.validators.map((v) => ({ uid: v.uid, dividends: v.dividends })),
      };
    }
  } finally {
    await Promise.allSettled(validatorAgents.map((v) => v.stop()));
    await Promise.allSettled(minerAgents.map((m) => m.stop()));
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

export function printSummary(s: DemoSummary, out: (line: string) => void): void {
  out("");
  out(`Epoch ${s.epoch} of Brain #${s.brainId}: emission ${s.epoch_emission} CBR, paid ${s.epoch_paid_total} CBR ` +
    `(miners ${s.paid.miners}, validators ${s.paid.validators}, owner + dust ${s.paid.owner_and_dust})`);
  out("");
  out("miner uid  role         incentive  user steps corrupted  validators saw wrong  reward (CBR)");
  const share = (r: number, n: number) => `${(r * 100).toFixed(0).padStart(3)}% of ${String(n).padStart(3)}`;
  for (const m of s.miners) {
    out(`${String(m.uid).padStart(9)}  ${m.role.padEnd(11)}  ${m.incentive.toFixed(4).padStart(9)}  ` +
      `${share(m.user_corrupted_rate, m.user_steps).padEnd(20)}  ${share(m.validator_wrong_rate, m.validator_steps).padEnd(20)}  ${m.reward}`);
  }
  const honest = s.miners.filter((m) => m.role === "honest").map((m) => m.incentive);
  const least = honest.length === 0 ? 0 : Math.min(...honest);
  const above = s.miners.filter((m) => m.role !== "honest" && m.incentive >= least);
  out(above.length === 0 ? `every cheater earned less than the least honest miner (${least.toFixed(4)})`
    : `NOT every cheater earned less than the least honest miner (${least.toFixed(4)}): ${above.map((m) => `${m.uid} ${m.role}`).join(", ")}`);
  out("");
  out("validator uid  dividends  reward (CBR)");
  for (const v of s.validators) out(`${String(v.uid).padStart(13)}  ${v.dividends.toFixed(4).padStart(9)}  ${v.reward}`);
  out("");
  out("balances (CBR)");
  for (const b of s.balances) out(`  ${b.role.padEnd(18)} ${b.cbr}`);
  out("  ¹ staked before the scored epoch began, so it shares in that epoch's dividends (docs/PROTOCOL.md, Staking");
  out("    accounting: only stake in place when an epoch begins earns for it)");
  out("");
  if (s.transformer !== undefined) {
    const t = s.transformer;
    out("");
    out(`Brain #${t.brainId} (${t.model}: transformer, ${t.rounds} rounds a word on ${t.plan}), epoch ${t.epoch}:`);
    out("miner uid  faulty  cheat_users  incentive  validators saw wrong");
    for (const m of t.miners) out(`${String(m.uid).padStart(9)}  ${(m.faulty ? "yes" : "no").padEnd(6)}  ${(m.cheat_users ? "yes" : "no").padEnd(11)}  ${m.incentive.toFixed(4).padStart(9)}  ${share(m.validator_wrong_rate, m.validator_steps)}`);
    out(`generated ${t.generated_words} words: "${t.text}"; median ${t.ms_per_word_median} ms/word, ` +
      `${(t.bytes_up_per_word / 1024).toFixed(0)} KiB up + ${(t.bytes_down_per_word / 1024).toFixed(0)} KiB down per word (every round), ` +
      `${(t.key_upload_bytes / 2 ** 20).toFixed(1)} MiB of keys over ${t.sessions} session(s), ${t.padding_words} padding words`);
  }
  out("");
  out(`generated ${s.generated_words} words: median ${s.ms_per_token_median} ms/token, ` +
    `${(s.bytes_up_per_token / 1024).toFixed(0)} KiB up + ${(s.bytes_down_per_token / 1024).toFixed(0)} KiB down per token, ` +
    `${(s.key_upload_bytes / 2 ** 20).toFixed(1)} MiB of keys over ${s.sessions} session(s), ${s.padding_words} padding words; ` +
    `whole run ${s.seconds} s`);
}

/**
 * The users of the demo's epoch: `requests` requests drawn from the (compressed) workload model, arriving as a
 * Poisson process over `windowMs`, each shaped into sessions that choose their miner over every seat with the users'
 * policy (as probes do), each session on a fresh identity. Every step is checked against the plaintext reference (which a
 * real user cannot do): per miner peer id, the user steps it served and how many it corrupted (provably wrong).
 */
async function simulatedUsers(model: BrainModel, miners: readonly MinerAddress[], requests: number, windowMs: number,
  heldOut: readonly string[], random: () => number): Promise<Map<string, { steps: number; wrong: number }>> {
  const reference = await PlaintextReference.create(model);
  const tally = new Map<string, { steps: number; wrong: number }>();
  const rule = scoringFor(model.kind);
  const t0 = performance.now();
  try {
    await Promise.all(sampleArrivals(requests, windowMs, random).map(async (startMs) => {
      const words = sampleRequest(COMPRESSED_WORKLOAD, random);
      const prompt = samplePrompt(heldOut, 4, random);
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + startMs - performance.now())));
      // A probe session is exactly a user session plus the reference check, so the demo reuses it as the user.
      const r = await probeSession({ model, reference, miners, prompt, words, workload: COMPRESSED_WORKLOAD, client: DEMO_CLIENT,
        transport: DEMO_TRANSPORT });
      for (const [key, outcomes] of r.byMiner) {
        const peer = key.split("/")[0]!;
        const t = tally.get(peer) ?? { steps: 0, wrong: 0 };
        t.steps += outcomes.length;
        t.wrong += outcomes.filter((o) => isWrong(o, rule)).length;
        tally.set(peer, t);
      }
    }));
  } finally {
    await reference.release();
  }
  return tally;
}

function progressLine(w: GeneratedWord, total: number): string {
  const done = w.index + 1;
  const bar = "█".repeat(Math.round((done / total) * 20)).padEnd(20, "░");
  return `   [${bar}] ${String(done).padStart(3)}/${total}  ${(1000 / w.ms).toFixed(2)} tok/s  ${displayToken(w.word, undefined).text}`;
}

function fmt(wei: bigint): string {
  const whole = wei / CBR;
  const frac = (wei % CBR).toString().padStart(18, "0").slice(0, 6);
  return `${whole}.${frac}`;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

// The validator's reveal/settle duties (EpochDuties + ValidatorState) on the in-process Hardhat EVM: every restart
// case is a fresh ValidatorState loaded from the file the "killed" one left behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { pino } from "pino";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment, type DeploymentFile } from "../../../nodes/chain/deployment.ts";
import { EpochDuties } from "../../../nodes/validator/duties.ts";
import { ValidatorState } from "../../../nodes/validator/state.ts";

const CBR = 10n ** 18n;
const PEER = "12D3KooWGzh8HZxZgMjD2qpkj4n3Y7ZJRrcnpqSrTQQHWMbs8sVA";
const TEMPO = 20;

async function mineTo(chain: ChainClient, block: bigint): Promise<void> {
  const now = await chain.blockNumber();
  if (block > now) await hre.network.provider.request({ method: "hardhat_mine", params: [`0x${(block - now).toString(16)}`] });
}

interface Validator { chain: ChainClient; uid: number; statePath: string; logs: { msg: string; why?: string; epoch?: string }[] }

/** A Brain with `maxMiners` seats, one miner and `validators` staked, registered validators. */
async function setup(maxMiners: number, validators: number) {
  const deployment: DeploymentFile = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre))));
  const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
  const as = (a: Address) => new ChainClient({ transport: custom(hre.network.provider), deployment, account: a });
  const owner = as(accounts[0]!);
  const brainId = await owner.mintBrain({
    modelHash: `0x${"11".repeat(32)}`, fheParamsHash: `0x${"22".repeat(32)}`, uri: "x", tempo: TEMPO,
    limits: { maxMiners, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 },
  });
  const minerUid = await as(accounts[1]!).register(brainId, "Miner", { peerId: PEER, multiaddrs: [] });
  const dir = mkdtempSync(join(tmpdir(), "cerberus-duties-"));
  const vs: Validator[] = [];
  for (let k = 0; k < validators; k++) {
    const addr = accounts[2 + k]!;
    await owner.transfer(addr, 500n * CBR);
    const chain = as(addr);
    await chain.stake(addr, 500n * CBR);
    // Peer ids are unique per Brain (PeerIdTaken): each validator gets its own.
    const uid = await chain.register(brainId, "Validator", { peerId: `${PEER.slice(0, -1)}${"BCDEFGHJ"[k]}`, multiaddrs: [] });
    vs.push({ chain, uid, statePath: join(dir, `v${k}`, "state.json"), logs: [] });
  }
  // A "process" of validator k: its duties over the state file as it is on disk now (what a restart sees).
  const proc = (k: number) => {
    const v = vs[k]!;
    const log = pino({ level: "info" }, { write: (line: string) => { v.logs.push(JSON.parse(line) as Validator["logs"][number]); } });
    const state = ValidatorState.load(v.statePath);
    return { state, duties: new EpochDuties({ chain: v.chain, brainId, uid: v.uid, state, log }) };
  };
  const epochNow = async () => owner.epochAt(brainId, await owner.blockNumber());
  const settledEpochs = async () => (await owner.public.getContractEvents({ address: deployment.contracts.Consensus.address,
    abi: (await import("../../../nodes/chain-artifacts/generated/abis.ts")).consensusAbi, eventName: "EpochSettled", args: { brainId }, fromBlock: 0n }))
    .map((e) => e.args.epoch!);
  return { deployment, owner, brainId, minerUid, vs, proc, epochNow, settledEpochs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("restart between saving a new salt and sending its commit: the reveal uses the salt whose hash is on-chain", async () => {
  const t = await setup(16, 1);
  try {
    const e = await t.epochNow();
    const first = t.proc(0);
    await first.duties.commit(e, [t.minerUid], [65_535]);
    // Re-scoring in the same epoch saved a second salt, then the process died before its commit transaction.
    first.state.record({ brainId: t.brainId.toString(), epoch: e.toString(), uid: t.vs[0]!.uid, uids: [t.minerUid],
      weights: [40_000], salt: `0x${"cd".repeat(32)}`, hash: `0x${"ef".repeat(32)}` });
    const w = await t.owner.windows(t.brainId, e);
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.revealDue(), [], "nothing is revealed before the window opens");
    assert.equal(restarted.state.list(t.brainId, "pending").length, 2, "both candidates are kept until then");
    await mineTo(t.owner, w.revealFrom);
    assert.deepEqual(await restarted.duties.revealDue(), [e]);
    const left = t.proc(0).state.forEpoch(t.brainId, e);
    assert.deepEqual(left.map((r) => [r.status, r.weights[0]]), [["revealed", 65_535]], "the on-chain one, alone, is revealed");
  } finally {
    t.cleanup();
  }
});

test("a reveal window that passed, or a commit that never landed, is marked lost with its reason and logged", async () => {
  const t = await setup(16, 1);
  try {
    const e = await t.epochNow();
    const p = t.proc(0);
    await p.duties.commit(e, [t.minerUid], [65_535]);
    // Epoch e + 1: a salt saved, then SIGKILL before the commit was sent.
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    p.state.record({ brainId: t.brainId.toString(), epoch: (e + 1n).toString(), uid: t.vs[0]!.uid, uids: [t.minerUid],
      weights: [1], salt: `0x${"cd".repeat(32)}`, hash: `0x${"ef".repeat(32)}` });
    await mineTo(t.owner, w.revealTo); // e's window passes while the validator is down
    const w1 = await t.owner.windows(t.brainId, e + 1n);
    await mineTo(t.owner, w1.revealFrom);
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.revealDue(), []);
    const byEpoch = Object.fromEntries(restarted.state.list(t.brainId).map((r) => [r.epoch, [r.status, r.note]]));
    assert.equal(byEpoch[e.toString()]![0], "lost");
    assert.match(byEpoch[e.toString()]![1]!, /reveal window .* passed/);
    assert.equal(byEpoch[(e + 1n).toString()]![0], "lost");
    assert.match(byEpoch[(e + 1n).toString()]![1]!, /never landed/);
    assert.equal(t.vs[0]!.logs.filter((l) => l.msg.startsWith("epoch lost")).length, 2, "each loss is logged");
  } finally {
    t.cleanup();
  }
});

test("an epoch revealed before a restart is settled by the restarted validator once its window ends", async () => {
  const t = await setup(16, 1);
  try {
    const e = await t.epochNow();
    const first = t.proc(0);
    await first.duties.commit(e, [t.minerUid], [65_535]);
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    assert.deepEqual(await first.duties.revealDue(), [e]);
    // SIGKILL here. The restarted process has only the file.
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.settleDue(), [], "not before the reveal window ends");
    await mineTo(t.owner, w.revealTo);
    assert.deepEqual(await restarted.duties.settleDue(), [e]);
    assert.deepEqual(await t.settledEpochs(), [e]);
    assert.deepEqual(t.proc(0).state.list(t.brainId).map((r) => r.status), ["settled"]);
    assert.deepEqual(await t.proc(0).duties.settleDue(), [], "nothing left to settle");
  } finally {
    t.cleanup();
  }
});

test("another validator's half-done chunked settlement is finished, then ours settles (was: treated as success, Brain stalled)", async () => {
  const t = await setup(32, 2);
  try {
    const e = await t.epochNow();
    const [v0, v1] = [t.proc(0), t.proc(1)];
    await v0.duties.commit(e, [t.minerUid], [65_535]);
    await v1.duties.commit(e, [t.minerUid], [65_535]);
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    await v0.duties.commit(e + 1n, [t.minerUid], [65_535]);
    assert.deepEqual(await v0.duties.revealDue(), [e]);
    assert.deepEqual(await v1.duties.revealDue(), [e]);
    await mineTo(t.owner, w.revealTo);
    // Validator 1 settles e in chunks of 16 miner-steps and dies after the first chunk (of 4).
    const consensus = await hre.ethers.getContractAt("Consensus", t.deployment.contracts.Consensus.address,
      await hre.ethers.getSigner(t.vs[1]!.chain.address));
    await (await consensus.settle(t.brainId, e, 16)).wait();
    assert.equal((await t.owner.settlementState(t.brainId)).phase, 1, "half-done: ranking phase");
    const w1 = await t.owner.windows(t.brainId, e + 1n);
    await mineTo(t.owner, w1.revealFrom);
    assert.deepEqual(await v0.duties.revealDue(), [e + 1n]);
    await mineTo(t.owner, w1.revealTo);
    // Validator 0 settles e + 1 (its state also still owes e: the oldest goes first, finishing validator 1's work).
    assert.deepEqual(await v0.duties.settleDue(), [e, e + 1n]);
    assert.deepEqual(await t.settledEpochs(), [e, e + 1n], "both epochs settled, in order");
    // And the lone case: only the later epoch is ours.
    const s = await t.owner.settlementState(t.brainId);
    assert.equal(s.phase, 0);
  } finally {
    t.cleanup();
  }
});

test("only e + 1 owed while e is half-settled by someone else: e is finished first, then e + 1", async () => {
  const t = await setup(32, 2);
  try {
    const e = await t.epochNow();
    const [v0, v1] = [t.proc(0), t.proc(1)];
    await v1.duties.commit(e, [t.minerUid], [65_535]);
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    await v0.duties.commit(e + 1n, [t.minerUid], [65_535]);
    await v1.duties.revealDue();
    await mineTo(t.owner, w.revealTo);
    const consensus = await hre.ethers.getContractAt("Consensus", t.deployment.contracts.Consensus.address,
      await hre.ethers.getSigner(t.vs[1]!.chain.address));
    await (await consensus.settle(t.brainId, e, 16)).wait();
    const w1 = await t.owner.windows(t.brainId, e + 1n);
    await mineTo(t.owner, w1.revealFrom);
    assert.deepEqual(await v0.duties.revealDue(), [e + 1n]);
    await mineTo(t.owner, w1.revealTo);
    assert.equal(await v0.duties.settleEpoch(e + 1n), "settled");
    assert.deepEqual(await t.settledEpochs(), [e, e + 1n]);
    assert.ok(t.vs[0]!.logs.some((l) => l.msg === "finishing another settler's half-done settlement first" && l.epoch === e.toString()));
  } finally {
    t.cleanup();
  }
});

test("no gap from our agents: before settling its epoch, a validator settles the previous one if anyone revealed it", async () => {
  const t = await setup(16, 2);
  try {
    const e = await t.epochNow();
    const [v0, v1] = [t.proc(0), t.proc(1)];
    await v0.duties.commit(e, [t.minerUid], [65_535]);
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    await v1.duties.commit(e + 1n, [t.minerUid], [65_535]);
    assert.deepEqual(await v0.duties.revealDue(), [e]);
    // Validator 0 is down from here on; validator 1 owes only e + 1.
    const w1 = await t.owner.windows(t.brainId, e + 1n);
    await mineTo(t.owner, w1.revealFrom);
    await v1.duties.revealDue();
    await mineTo(t.owner, w1.revealTo);
    assert.deepEqual(await v1.duties.settleDue(), [e + 1n]);
    assert.deepEqual(await t.settledEpochs(), [e, e + 1n], "validator 0's epoch was settled first, not skipped");
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.settleDue(), [e]);
    assert.deepEqual(restarted.state.list(t.brainId).map((r) => r.status), ["settled"]);
  } finally {
    t.cleanup();
  }
});

test("no silent gap: an epoch revealed but left to expire and overtaken by a later settlement is recorded lost with the reason", async () => {
  const t = await setup(16, 1);
  try {
    const e = await t.epochNow();
    const v0 = t.proc(0);
    await v0.duties.commit(e, [t.minerUid], [65_535]);
    const w = await t.owner.windows(t.brainId, e);
    await mineTo(t.owner, w.revealFrom);
    assert.deepEqual(await v0.duties.revealDue(), [e]);
    // Validator 0 is down for two epochs: nobody settles e before it expires (the reveal window of e + 2), then
    // someone settles e + 1 directly (nobody revealed it) — before e expired, the chain refused that.
    const w1 = await t.owner.windows(t.brainId, e + 1n);
    await mineTo(t.owner, w1.revealTo);
    const consensus = await hre.ethers.getContractAt("Consensus", t.deployment.contracts.Consensus.address);
    await assert.rejects(consensus.settle(t.brainId, e + 1n, 1000), /EarlierEpochUnsettled/);
    await mineTo(t.owner, (await t.owner.windows(t.brainId, e + 2n)).revealFrom);
    await (await consensus.settle(t.brainId, e + 1n, 1000)).wait();
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.settleDue(), []);
    const [r] = restarted.state.list(t.brainId);
    assert.equal(r!.status, "lost");
    assert.match(r!.note!, new RegExp(`a later epoch \\(${e + 1n}\\) settled first`));
    assert.ok(t.vs[0]!.logs.some((l) => l.msg.startsWith("epoch lost") && l.epoch === e.toString()));
  } finally {
    t.cleanup();
  }
});

test("an epoch revealed and left unsettled until it expired is recorded lost with the reason", async () => {
  const t = await setup(16, 1);
  try {
    const e = await t.epochNow();
    const v0 = t.proc(0);
    await v0.duties.commit(e, [t.minerUid], [65_535]);
    await mineTo(t.owner, (await t.owner.windows(t.brainId, e)).revealFrom);
    assert.deepEqual(await v0.duties.revealDue(), [e]);
    // down until the reveal window of e + 2 opened: e can no longer be settled
    await mineTo(t.owner, (await t.owner.windows(t.brainId, e + 2n)).revealFrom);
    const restarted = t.proc(0);
    assert.deepEqual(await restarted.duties.settleDue(), []);
    const [r] = restarted.state.list(t.brainId);
    assert.equal(r!.status, "lost");
    assert.match(r!.note!, /expired unsettled/);
  } finally {
    t.cleanup();
  }
});

test("a reveal waits for a half-done settlement of epoch − 2 (same weight buffer): the agent finishes it, then reveals", async () => {
  const t = await setup(32, 1); // 32 miner seats: a settle of 16 steps leaves the epoch half-done
  try {
    const e = await t.epochNow();
    const v = t.proc(0);
    await v.duties.commit(e, [t.minerUid], [65_535]);
    await mineTo(t.owner, (await t.owner.windows(t.brainId, e)).revealFrom);
    assert.deepEqual(await v.duties.revealDue(), [e]);
    await mineTo(t.owner, (await t.owner.windows(t.brainId, e + 2n)).commitFrom);
    await v.duties.commit(e + 2n, [t.minerUid], [65_535]);
    // another settler starts settling e in chunks in its last block before it expires, and stops
    const reveal2 = (await t.owner.windows(t.brainId, e + 2n)).revealFrom;
    await mineTo(t.owner, reveal2 - 2n);
    const consensus = await hre.ethers.getContractAt("Consensus", t.deployment.contracts.Consensus.address);
    await (await consensus.settle(t.brainId, e, 16)).wait();
    assert.equal((await t.owner.settlementState(t.brainId)).phase, 1);
    await mineTo(t.owner, reveal2);
    assert.deepEqual(await t.proc(0).duties.revealDue(), [e + 2n]);
    const s = await t.owner.settlementState(t.brainId);
    assert.deepEqual([s.phase, s.epoch], [0, e], "epoch e was finished first");
    assert.ok(t.vs[0]!.logs.some((l) => l.msg === "finishing a half-done settlement before revealing"));
  } finally {
    t.cleanup();
  }
});

test("state file: version 1 files load (revealed → owes a settlement), garbage is a typed error, writes leave no partial file", () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-state-"));
  try {
    const path = join(dir, "state.json");
    const rec = { brainId: "1", epoch: "7", uids: [0], weights: [65_535], salt: `0x${"ab".repeat(32)}`, hash: `0x${"cd".repeat(32)}` };
    writeFileSync(path, JSON.stringify({ version: 1, pending: [{ ...rec, revealed: true }, { ...rec, epoch: "8", revealed: false }] }));
    const s = ValidatorState.load(path);
    assert.deepEqual(s.list(1n).map((r) => [r.epoch, r.status]), [["7", "revealed"], ["8", "pending"]]);
    s.markSettled(1n, 7n);
    const onDisk = JSON.parse(readFileSync(path, "utf8")) as { version: number; commits: { status: string }[] };
    assert.equal(onDisk.version, 2);
    assert.deepEqual(onDisk.commits.map((c) => c.status), ["settled", "pending"]);
    writeFileSync(path, "{\"version\": 2, \"commits\": [{\"epoch\": \"x\"}]}");
    assert.throws(() => ValidatorState.load(path), (err: unknown) => (err as { code?: string }).code === "BAD_STATE");
    writeFileSync(path, "{ truncated");
    assert.throws(() => ValidatorState.load(path), (err: unknown) => (err as { code?: string }).code === "BAD_STATE");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGKILL at any moment while the state file is being written: the file always loads, and holds every record written before", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-state-kill-"));
  try {
    const path = join(dir, "state.json");
    const writer = new URL("./fixtures/state-writer.ts", import.meta.url).pathname;
    let before = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ["--import", "tsx", writer, path], { stdio: ["ignore", "pipe", "inherit"] });
      const exited = new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
      await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
      await new Promise((r) => setTimeout(r, 20 + round * 37));
      child.kill("SIGKILL");
      assert.equal(await exited, "SIGKILL");
      const epochs = ValidatorState.load(path).list(1n).map((r) => Number(r.epoch));
      assert.deepEqual(epochs, epochs.map((_, i) => i), "records 0..n-1, none torn");
      assert.ok(epochs.length >= before, `nothing written before the kill is lost (${epochs.length} ≥ ${before})`);
      before = epochs.length;
    }
    assert.ok(before > 8, `the writer got writes in (${before})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

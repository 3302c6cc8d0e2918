// test-lane: clock — it waits on a chain that mines a block a second for several epochs.
// Validators that survive restarts, on a live chain: a real `hardhat node` with interval mining (1 s blocks, no
// automine once set up), one honest miner (probes drawn from the time-compressed workload, so that scoring
// fits the 12-block commit window on 2 cores: USER_WORKLOAD sessions of up to 48 words with 1.5 s pauses overran it), validator B left alone and validator A run through the CLI and SIGKILLed
// at the worst moments:
//   K1 right after A's first commit (epoch k1), restarted to be up ~2 blocks before k1's reveal window opens — aimed
//      at the moment the old agent lost (it re-scored, the scoring crossed the boundary, k1's window passed; start-up
//      times vary, so agent-loops.test.ts pins that case down deterministically);
//   K2 the moment A starts scoring epoch k1+2 — the moment k1+1's reveal is due — and restarted at once.
// Then: no reveal dropped (A revealed every epoch from its first commit on), every revealed epoch settled (no gap), A's
// state file knows each of them settled, and each validator's dividends equal — to the wei — the Yuma reference for
// the no-restart run (A reveals every epoch, B as it did) given each epoch's emission.
import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, http, type Address } from "viem";
import { consensusAbi, neuronRegistryAbi } from "../../../nodes/chain-artifacts/generated/abis.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import { normalizeRow, payout, yumaEpoch } from "../../../nodes/chain/yuma.ts";
import { loadBrainModel } from "../../../nodes/client/brain-model.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";
import { spawnCli, startHardhatNode, waitFor, type AgentProcess, type LogLine } from "./fixtures/live-chain.ts";

const CBR = 10n ** 18n;
const MIN_VALIDATOR_STAKE = 100n * CBR;
const TEMPO = 30; // blocks; reveal window 15 blocks (restarts on a busy 2-core machine take seconds)
const BLOCK_MS = 1_000;
const MAX_MINERS = 16;
const MAX_VALIDATORS = 4;
// Hardhat's first default account (a public test key, the same on every `hardhat node`): the deployer.
const HARDHAT_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

test("validator SIGKILLed after commit and mid-scoring on a live chain: no reveal dropped, every epoch settled, dividends as without restarts",
  { timeout: 420_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cerberus-restart-"));
    const log = createLogger("test", "warn");
    const logs: LogLine[] = [];
    const procs: AgentProcess[] = [];
    let miner: MinerAgent | undefined;
    const node = await startHardhatNode(BLOCK_MS);
    try {
      // ── chain, Brain, stakes, one honest miner (in this process) ──
      process.env.CERBERUS_RPC_URL = node.url;
      process.env.CERBERUS_DEPLOYER_KEY = HARDHAT_KEY_0;
      process.env.HARDHAT_NETWORK = "custom";
      const { default: hre } = await import("hardhat");
      const { deployCerberus } = await import("../../../scripts/deploy.ts");
      const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre as never))));
      const deploymentFile = join(dir, "deployment.json");
      writeFileSync(deploymentFile, JSON.stringify(deployment));
      const transport = http(node.url);
      const accounts = ((await transport({}).request({ method: "eth_accounts" })) as Address[]).map((x) => getAddress(x));
      const [ownerAddr, minerAddr, aAddr, bAddr] = accounts as [Address, Address, Address, Address];
      const as = (a: Address) => new ChainClient({ transport, deployment, account: a, logger: log });
      const owner = as(ownerAddr);

      const { vocab } = loadBrownSplits();
      writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "brown-lm" }); // the CLI's default model name
      const model = loadBrainModel({ dir });
      const brainId = await owner.mintBrain({
        modelHash: model.modelHash, fheParamsHash: model.planHash, uri: "tiny", tempo: TEMPO,
        limits: { maxMiners: MAX_MINERS, maxValidators: MAX_VALIDATORS, minMinerStake: 0n, minValidatorStake: MIN_VALIDATOR_STAKE,
          immunityPeriod: 5 },
      });
      const stakes = new Map<Address, bigint>([[aAddr, 3_000n * CBR], [bAddr, 1_000n * CBR]]);
      for (const [addr, amount] of stakes) {
        await owner.transfer(addr, amount);
        await as(addr).stake(addr, amount);
      }
      miner = await MinerAgent.start({ chain: as(minerAddr), brainId, modelDir: dir, dataDir: join(dir, "miner"), logger: log });
      // From here on blocks come only from the interval: real block time, transactions wait for the next block.
      await transport({}).request({ method: "evm_setAutomine", params: [false] });

      // ── validators through the CLI ──
      const starts = new Map<string, number>();
      const startValidator = (name: "A" | "B", addr: Address) => {
        const n = (starts.get(name) ?? 0) + 1;
        starts.set(name, n);
        const p = spawnCli(`${name}#${n}`, ["--rpc", node.url, "--deployment", deploymentFile, "--account", addr,
          "validator", "--brain", brainId.toString(), "--model-dir", dir, "--data-dir", join(dir, `validator-${name}`),
          // Probes start without pause at challenges × miners per epoch; a process restarted mid-epoch scores what
          // ended before the deadline, so the rate must give it some in a fraction of an epoch.
          "--challenges", "6", "--workload", "compressed"], logs);
        procs.push(p);
        return p;
      };
      const of = (name: string, msg: string) => logs.filter((l) => l.proc.startsWith(name) && l.msg === msg);
      const killA = async (p: AgentProcess) => {
        p.child.kill("SIGKILL");
        assert.equal(await p.exited, "SIGKILL");
      };
      startValidator("B", bAddr);
      let a = startValidator("A", aAddr);

      // K1: right after A's first commit; restarted so that it is up again ~2 blocks before that epoch's reveal window
      // opens (its first start-up time ahead) — the old agent then re-scored, crossed the boundary and dropped k1.
      const c1 = await waitFor("A's first commit", () => of("A#1", "weights committed")[0], 4 * TEMPO * BLOCK_MS);
      await killA(a);
      const k1 = BigInt(c1.epoch as string);
      const w1 = await owner.windows(brainId, k1);
      const startupBlocks = BigInt(Math.ceil((of("A#1", "validator ready")[0]!.at - a.startedAt) / BLOCK_MS));
      const restartAt = w1.revealFrom - startupBlocks - 2n;
      await waitFor(`block ${restartAt}`, async () => (await owner.blockNumber()) >= restartAt, 2 * TEMPO * BLOCK_MS);
      a = startValidator("A", aAddr);
      const restartBlock = await owner.blockNumber();
      const r1 = await waitFor(`A reveals epoch ${k1}`, () => logs.find((l) => l.proc === "A#2" && l.msg === "weights revealed" &&
        l.epoch === k1.toString()), TEMPO * BLOCK_MS);
      const r1Block = await owner.blockNumber();

      // K2: the moment A starts scoring epoch k1 + 2 (k1 + 1's reveal is due at the same boundary); restart at once.
      const k2 = k1 + 2n;
      await waitFor(`A starts scoring epoch ${k2}`, () => logs.find((l) => l.proc === "A#2" && l.msg === "scoring started" &&
        l.epoch === k2.toString()), 3 * TEMPO * BLOCK_MS);
      await killA(a);
      a = startValidator("A", aAddr);

      // K3: right after A reveals k2 (before k2's settlement window): the next process must see k2 settled.
      await waitFor(`A reveals epoch ${k2}`, () => logs.find((l) => l.proc === "A#3" && l.msg === "weights revealed" &&
        l.epoch === k2.toString()), 2 * TEMPO * BLOCK_MS);
      await killA(a);
      a = startValidator("A", aAddr);

      // Run until the epoch after k2 is settled, then stop both validators gracefully.
      const last = k2 + 1n;
      const lastW = await owner.windows(brainId, last);
      await waitFor(`epoch ${last} settled`, async () => {
        const s = await owner.settlementState(brainId);
        return s.settledAny && s.phase === 0 && s.epoch >= last;
      }, Number(lastW.revealTo - (await owner.blockNumber()) + 3n * BigInt(TEMPO)) * BLOCK_MS);
      // …and A has seen it (its duty loop polls; stopping it earlier would leave its state one poll behind).
      await waitFor(`A records epoch ${last} settled`, () => logs.some((l) => l.proc.startsWith("A") && l.epoch === last.toString() &&
        (l.msg === "epoch settled" || l.msg === "epoch already settled by another settler")), 30_000);
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
      await Promise.all(procs.map((p) => p.exited));

      // ── what happened on-chain ──
      const aUid = (await owner.uidOf(brainId, aAddr)).uid;
      const bUid = (await owner.uidOf(brainId, bAddr)).uid;
      const revealedEvents = await owner.public.getContractEvents({ address: deployment.contracts.Consensus.address,
        abi: consensusAbi, eventName: "WeightsRevealed", args: { brainId }, fromBlock: 0n });
      const revealedBy = (uid: number) => new Set(revealedEvents.filter((e) => e.args.uid === uid).map((e) => e.args.epoch!));
      const a0 = of("A", "weights committed").map((l) => BigInt(l.epoch as string)).reduce((m, e) => (e < m ? e : m));
      assert.equal(a0, k1);
      // B is the undisturbed partner: on a loaded machine it may itself miss an epoch (scoring past its deadline), so
      // its reveals are taken as they happened; A, killed twice, must have revealed every epoch from its first commit.
      const bRevealed = revealedBy(bUid);
      const epochs: bigint[] = [];
      for (let e = a0; e <= last; e++) epochs.push(e);
      for (const e of epochs) assert.ok(revealedBy(aUid).has(e), `A revealed epoch ${e} (no reveal dropped across its restarts)`);
      // (Before its first commit landed A may have lost a scoring round to a busy machine — not a restart's doing.)
      const lostLines = logs.filter((l) => l.proc.startsWith("A") && (l.msg.startsWith("epoch lost") ||
        l.msg.includes("reveal window missed")) && BigInt(l.epoch as string) >= a0);
      assert.deepEqual(lostLines, [], "A lost no epoch from its first commit on");

      // Every epoch anyone revealed settled, in order, none skipped; A's state knows it.
      const settledEvents = await owner.public.getContractEvents({ address: deployment.contracts.Consensus.address,
        abi: consensusAbi, eventName: "EpochSettled", args: { brainId }, fromBlock: 0n });
      const settled = settledEvents.map((e) => e.args.epoch!);
      const revealedByAnyone = [...new Set(revealedEvents.map((e) => e.args.epoch!))].sort((x, y) => (x < y ? -1 : 1));
      assert.deepEqual(settled, revealedByAnyone.filter((e) => e <= last), "every revealed epoch settled, none skipped");
      const stateA = JSON.parse(readFileSync(join(dir, "validator-A", "state.json"), "utf8")) as
        { version: number; commits: { epoch: string; status: string }[] };
      assert.equal(stateA.version, 2);
      for (const e of epochs.filter((x) => x >= a0)) {
        assert.deepEqual(stateA.commits.filter((c) => c.epoch === e.toString()).map((c) => c.status), ["settled"],
          `A's state: epoch ${e} settled`);
      }

      assert.ok(logs.some((l) => l.proc === "A#4" && (l.msg === "epoch settled" || l.msg === "epoch already settled by another settler") &&
        l.epoch === k2.toString()), `A's next process settled (or found settled) epoch ${k2}, revealed before its restart`);

      // Dividends: replay the no-restart run (A reveals every epoch from a0 on, B as it did, the same one-miner weights) through
      // the Yuma reference with each epoch's actual emission; every validator's payout must match to the wei.
      const row = normalizeRow([miner.uid], [65_535], MAX_MINERS);
      let bonds: bigint[][] = Array.from({ length: MAX_VALIDATORS }, () => new Array<bigint>(MAX_MINERS).fill(0n));
      const shares: string[] = [];
      for (const [k, e] of settled.entries()) {
        const weights = Array.from({ length: MAX_VALIDATORS }, (_, i) =>
          (i === aUid && e >= a0) || (i === bUid && bRevealed.has(e)) ? row : null);
        // Voting stake: the least stake bonded to the Brain since epoch e began. The stakes never change after setup, so
        // it is the whole stake if the seat was taken before e began, else 0.
        const { commitFrom } = await owner.windows(brainId, e);
        const seatStake = new Array<bigint>(MAX_VALIDATORS).fill(0n);
        for (const [uid, addr] of [[aUid, aAddr], [bUid, bAddr]] as const) {
          const seat = await owner.public.readContract({ address: deployment.contracts.NeuronRegistry.address,
            abi: neuronRegistryAbi, functionName: "neuron", args: [brainId, 1, uid] });
          seatStake[uid] = seat.registeredAt < commitFrom ? stakes.get(addr)! : 0n;
        }
        const r = yumaEpoch({ weights, stakes: seatStake, minStake: MIN_VALIDATOR_STAKE, bonds,
          validatorSeated: Array.from({ length: MAX_VALIDATORS }, (_, i) => i === aUid || i === bUid),
          minerSeated: Array.from({ length: MAX_MINERS }, (_, j) => j === miner!.uid) });
        bonds = r.bonds;
        const paid = (await owner.epochPayouts(brainId, e, settledEvents[k]!.blockNumber))!;
        const expected = payout(r, paid.emission);
        assert.ok(paid.emission > 0n, `epoch ${e} paid emission`);
        for (const [uid, addr] of [[aUid, aAddr], [bUid, bAddr]] as const) {
          assert.equal(paid.validatorRewards.get(addr) ?? 0n, expected.validator[uid],
            `epoch ${e}: validator uid ${uid}'s dividends equal the no-restart run's`);
        }
        shares.push(`${e}:${(Number(expected.dividendShares[aUid]) / 65_535).toFixed(4)}`);
        if (e >= a0 && bRevealed.has(e) && r.votingStakes[aUid]! > 0n) assert.ok(paid.validatorRewards.get(aAddr)! > 0n);
      }
      const restartToReveal = r1.at - procs[2]!.startedAt;
      const k2Reveal = logs.find((l) => l.msg === "weights revealed" && l.epoch === (k2 - 1n).toString() && l.proc.startsWith("A"));
      const k2Note = k2Reveal === undefined ? "" : `; epoch ${k2 - 1n} revealed by ${k2Reveal.proc}` +
        (k2Reveal.proc === "A#3" ? ` ${k2Reveal.at - procs[3]!.startedAt} ms after the K2 restart` : " before the K2 kill");
      console.log(`# settled ${settled.join(",")}; A revealed from ${a0}, B revealed ${[...bRevealed].join(",")}; A's dividend share per epoch ${shares.join(" ")}; ` +
        `K1 restart at block ${restartBlock} (aimed at ${restartAt}: A's start-up took ${startupBlocks} blocks) → reveal of epoch ${k1} ` +
        `${restartToReveal} ms later, at block ${r1Block} of window ` +
        `[${w1.revealFrom}, ${w1.revealTo})${k2Note}`);
    } catch (err) {
      // The agents' own account of what happened is the first thing to read when this fails.
      for (const l of logs) {
        if (l.msg === "miner scored" || l.msg === "transaction mined") continue;
        const { proc, at, msg, level, time: _t, pid: _p, hostname: _h, name: _n, ...rest } = l;
        console.log(`# ${new Date(at).toISOString().slice(11, 23)} ${proc} ${level} ${msg} ${JSON.stringify(rest)}`);
      }
      throw err;
    } finally {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
      await Promise.allSettled(procs.map((p) => p.exited));
      if (miner !== undefined) await miner.stop().catch(() => {});
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBrainModel, mlpModel, type MlpBrainModel as BrainModel } from "../../../nodes/client/brain-model.ts";
import { generateSession } from "../../../nodes/client/generate.ts";
import { exactSessions } from "../../../nodes/client/workload.ts";
import { chooseMiners } from "../../../nodes/client/selection.ts";
import { InferClient, type MinerAddress } from "../../../nodes/client/transport.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { MinerEvaluator } from "../../../nodes/fhe/index.ts";
import { MinerService, type RequestEvent } from "../../../nodes/miner/service.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";
import { BusyError } from "../../../nodes/net/errors.ts";
import type { EvalSession, MinerEvaluator as NetEvaluator, SessionKeys } from "../../../nodes/net/evaluator.ts";
import type { HealthQueue } from "../../../nodes/net/messages.ts";
import { createCerberusNode, type CerberusNode } from "../../../nodes/net/node.ts";
import { brokenClaim, chargedMs, CLAIM_CHECK_MIN_MS, outcomesOf, PlaintextReference, probeSession } from "../../../nodes/validator/challenge.ts";
import { scoreMiner, scoringFor, toWeights } from "../../../nodes/validator/scoring.ts";

const MLP = scoringFor("mlp");

/**
 * Issue 14, from the attacker's side: BUSY and health are new things a miner says, so each gets its cheapest lie.
 * Probes run the validator's real path (probeSession → generate → FailoverSession, scored by scoreMiner/toWeights)
 * against real miners (MinerService, node-seal, libp2p on 127.0.0.1) serving a tiny LM of the shipped format.
 */
const log = createLogger("test", "silent");
const HOTKEY = "0x00000000000000000000000000000000000b0b01";

/** Answers BUSY to every step (or only to the first `firstN` of each session), stating `waitMs`. */
class BusyEvaluator implements NetEvaluator {
  constructor(private readonly inner: NetEvaluator, private readonly waitMs: number, private readonly firstN = Infinity) {}
  get planId(): string { return this.inner.planId; }
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    const s = await this.inner.openSession(keys);
    let refused = 0;
    return {
      evaluate: async (inputs) => {
        if (refused < this.firstN) { refused += 1; throw new BusyError("busy (attacker)", this.waitMs); }
        return s.evaluate(inputs);
      },
      close: () => s.close(),
    };
  }
}

/** An honest evaluator that takes `delayMs` more per step (a loaded machine). */
class SlowEvaluator implements NetEvaluator {
  constructor(private readonly inner: NetEvaluator, private readonly delayMs: number) {}
  get planId(): string { return this.inner.planId; }
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    const s = await this.inner.openSession(keys);
    return {
      evaluate: async (inputs) => {
        await new Promise((r) => setTimeout(r, this.delayMs));
        return s.evaluate(inputs);
      },
      close: () => s.close(),
    };
  }
}

/** An honest evaluator behind a health report that lies about the queue. */
class LyingService extends MinerService {
  claim: Partial<HealthQueue> = {};
  override get queue(): HealthQueue { return { ...super.queue, ...this.claim }; }
}

describe("BUSY and health lies earn nothing (validator scoring)", () => {
  let dir: string;
  let model: BrainModel;
  let reference: PlaintextReference;
  let ev: MinerEvaluator;
  const stops: (() => Promise<unknown>)[] = [];
  const shape = { words: 3, workload: exactSessions(3) };

  const serve = async (evaluator: NetEvaluator, Service: typeof MinerService = MinerService, workers?: number) => {
    const node: CerberusNode = await createCerberusNode();
    const events: RequestEvent[] = [];
    const service = new Service(node, { evaluator, hotkey: HOTKEY, logger: log, onRequest: (e) => events.push(e),
      ...(workers !== undefined ? { workers } : {}) });
    await service.start();
    stops.push(async () => { await service.stop(); await node.stop(); });
    const address: MinerAddress = { peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()) };
    return { service, address, events };
  };
  /** A miner stating `claim` beside an honest one; a user choosing between them (draw `seed`) takes the honest one. */
  const liarBesideHonest = async (claim: Partial<HealthQueue>, seed: number) => {
    const liar = await serve(ev, LyingService);
    (liar.service as LyingService).claim = claim;
    const honest = await serve(ev);
    const user = new InferClient(await createCerberusNode({ listen: [] }).then((n) => { stops.push(async () => { await n.stop(); }); return n; }));
    const choice = await chooseMiners(user, [liar.address, honest.address], { planId: model.descriptor.planId, random: createRng(seed).next });
    assert.equal(choice.order[0]!.peerId, honest.address.peerId, "the user goes to the honest miner");
    return { liar, honest };
  };
  /** A probe in a Brain whose only miner is `miner` (users come anyway: there is nowhere else to go). */
  const probe = async (miner: MinerAddress, seed: number) =>
    outcomesOf(await probeSession({ model, reference, miners: [miner], prompt: "the jury said that", ...shape, seed, logger: log }), miner.peerId);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cerberus-busy-"));
    const { vocab } = loadBrownSplits();
    writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "tiny-lm" });
    model = mlpModel(loadBrainModel({ dir, name: "tiny-lm" }));
    reference = await PlaintextReference.create(model);
    ev = await MinerEvaluator.create(model.onnxBytes, model.planOptions);
  });
  after(async () => {
    for (const s of stops.reverse()) await s();
    ev.dispose();
    await reference.release();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a miner that answers BUSY to everything scores as no work: every probe step unanswered, no weight", async () => {
    const honest = await serve(ev);
    const busy = await serve(new BusyEvaluator(ev, 60_000));
    const good = await probe(honest.address, 1);
    const t0 = performance.now();
    const refused = await probe(busy.address, 2);
    assert.ok(performance.now() - t0 < 5_000, "a long stated wait ends the probe at once (as it ends a user's stay)");
    assert.equal(refused.length, shape.words, "every planned step is scored, none excluded");
    assert.ok(refused.every((o) => !o.answered));
    const scores = [scoreMiner(1, good, MLP), scoreMiner(2, refused, MLP)];
    assert.equal(scores[1]!.score, 0);
    assert.ok(scores[0]!.score > 0.7, JSON.stringify(scores[0]));
    assert.deepEqual(toWeights(scores).uids, [1], "the BUSY miner gets no weight, so no incentive");
  });

  test("users and probes react to a BUSY alike (same requests, same pause), so BUSY cannot sort probes from users", async () => {
    // BUSY on the first step of every session with a short stated wait, then honest: a cheater hoping only probes
    // come back would serve both, since both wait the stated 300 ms and retry.
    const m = await serve(new BusyEvaluator(ev, 300, 1));
    const userNode = await createCerberusNode({ listen: [] });
    stops.push(async () => { await userNode.stop(); });
    await generateSession({ model, infer: new InferClient(userNode), miners: [m.address], prompt: "the jury said that", words: 3, seed: 5 });
    const probeOutcomes = await probe(m.address, 6);
    assert.ok(probeOutcomes.every((o) => o.answered && o.top1Match), JSON.stringify(probeOutcomes));
    const bySession = new Map<string, RequestEvent[]>();
    for (const e of m.events) {
      if (e.sessionId === undefined) continue;
      bySession.set(e.sessionId, [...(bySession.get(e.sessionId) ?? []), e]);
    }
    const patterns = [...bySession.values()].map((es) => es.map((e) => `${(e.header as { type?: string })?.type}:${e.outcome}`).join(" "));
    assert.equal(patterns.length, 2);
    assert.equal(patterns[0], patterns[1], "the user's and the probe's sessions look the same to the miner");
    assert.equal(patterns[0], "open:opened step:BUSY step:result step:result step:result close:closed");
    for (const es of bySession.values()) {
      const steps = es.filter((e) => (e.header as { type?: string })?.type === "step");
      assert.ok(steps[1]!.receivedAt! - steps[0]!.receivedAt! >= 300, "both waited the stated wait before asking again");
    }
  });

  test("claiming a huge queue to keep users away: users avoid the miner, and so do probes (no work, score 0)", async () => {
    const { liar, honest } = await liarBesideHonest({ depth: 500, expectedWaitMs: 600_000 }, 3);
    // The probe runs the users' choice over the same Brain, with the same draw: it lands where the user landed.
    const r = await probeSession({ model, reference, miners: [liar.address, honest.address], prompt: "the jury said that", ...shape,
      seed: 7, random: createRng(3).next, logger: log });
    assert.deepEqual(outcomesOf(r, liar.address.peerId), [], "no step reached the liar");
    assert.ok(outcomesOf(r, honest.address.peerId).every((o) => o.answered && o.top1Match));
    assert.equal(scoreMiner(3, outcomesOf(r, liar.address.peerId), MLP).score, 0);
    assert.equal(liar.events.filter((e) => (e.header as { type?: string })?.type === "open").length, 0,
      "the probe never opened there, exactly as a user would not");
  });

  test("a probe asks health where a user asks it: d candidates of the whole Brain, so no seat sees a probe ask only one", async () => {
    // Before: a probe asked its one target, a user asked two, so an operator with two seats knew a peer that asked
    // both was a user (99.7%).
    const seats = [await serve(ev), await serve(ev), await serve(ev)];
    const miners = seats.map((x) => x.address);
    const healthAsked = (peer: string) => seats.filter((x) => x.events.some((e) => e.peerId === peer && e.protocol.includes("health"))).length;
    const userNode = await createCerberusNode({ listen: [] });
    stops.push(async () => { await userNode.stop(); });
    await generateSession({ model, infer: new InferClient(userNode), miners, prompt: "the jury said that", words: 2, seed: 5, random: createRng(8).next });
    const r = await probeSession({ model, reference, miners, prompt: "the jury said that", ...shape, seed: 6, random: createRng(8).next, logger: log });
    const probePeer = seats.flatMap((x) => x.events).find((e) => e.peerId !== userNode.peerId.toString())!.peerId;
    assert.equal(healthAsked(userNode.peerId.toString()), 2, "the user asked two seats");
    assert.equal(healthAsked(probePeer), 2, "the probe asked two seats too");
    assert.deepEqual(r.asked.sort(), seats.filter((x) => x.events.some((e) => e.peerId === probePeer && e.protocol.includes("health")))
      .map((x) => x.address.peerId).sort());
    const served = [...r.byMiner.keys()].map((k) => k.split("/")[0]);
    assert.equal(served.length, 1, "the session ran on one miner, the one the users' choice picked");
  });

  test("claiming a long (but acceptable) queue it does not have: users go elsewhere, and the probe's sessions count as no work", async () => {
    // Before: the claimed wait was charged on the first step only, so with an honest step time the liar's median
    // latency — and its score — equalled the honest miner's while users stayed away.
    const { liar, honest } = await liarBesideHonest({ depth: 40, expectedWaitMs: 8_000 }, 4);
    const a = await probe(honest.address, 8);
    const b = await probe(liar.address, 9);
    assert.ok(a.every((o) => o.answered && o.top1Match));
    assert.ok(b.every((o) => !o.answered), JSON.stringify(b));
    assert.equal(scoreMiner(2, b, MLP).score, 0);
    // Slow steps claimed but not taken are the same lie.
    (liar.service as LyingService).claim = { expectedWaitMs: 0, recentStepMs: 4_000 };
    assert.ok((await probe(liar.address, 10)).every((o) => !o.answered));
  });

  test("an honest miner under load keeps its sessions: the queue it states is the queue a probe meets", async () => {
    // One worker, 400 ms more per step, three users generating without pause: the stated wait is a real queue.
    const busy = await serve(new SlowEvaluator(ev, 400), MinerService, 1);
    const users = [0, 1, 2].map(async (k) => {
      const n = await createCerberusNode({ listen: [] });
      stops.push(async () => { await n.stop(); });
      await generateSession({ model, infer: new InferClient(n), miners: [busy.address], prompt: "the jury said that", words: 12, seed: 20 + k });
    });
    await new Promise((r) => setTimeout(r, 2_500)); // the users' sessions are open and queueing
    const asker = await createCerberusNode({ listen: [] });
    stops.push(async () => { await asker.stop(); });
    const stated = (await new InferClient(asker).health(busy.address)).queue;
    assert.ok(stated.expectedWaitMs >= CLAIM_CHECK_MIN_MS, `a queue the claim check applies to: ${JSON.stringify(stated)}`);
    const steps: { index: number; ms: number }[] = [];
    const outcomes = outcomesOf(await probeSession({ model, reference, miners: [busy.address], prompt: "the jury said that", ...shape,
      seed: 11, logger: log, onStep: (s) => steps.push({ index: s.index, ms: s.ms }) }), busy.address.peerId);
    await Promise.all(users);
    assert.ok(outcomes.every((o) => o.answered && o.top1Match), JSON.stringify(outcomes));
    assert.ok(steps[0]!.ms >= 1_000, `the probe met the queue: first step ${Math.round(steps[0]!.ms)} ms`);
  });

  test("claiming an empty queue gains nothing: a step is scored at the worse of claim and measurement", () => {
    const empty = { planId: "", protocols: [], software: "", uptimeMs: 0, load: { sessions: 0, maxSessions: 1, inflight: 0, maxInflight: 1 },
      queue: { depth: 0, workers: 1, recentStepMs: 0, recentSteps: 0, expectedWaitMs: 0 } };
    assert.equal(chargedMs({ index: 0, ms: 2_500 }, empty), 2_500);
    assert.equal(chargedMs({ index: 3, ms: 900 }, empty), 900);
    const slow = { ...empty, queue: { ...empty.queue, recentStepMs: 1_000, expectedWaitMs: 3_000 } };
    assert.equal(chargedMs({ index: 0, ms: 500 }, slow), 4_000);
    assert.equal(chargedMs({ index: 1, ms: 500 }, slow), 1_000);
  });

  test("an honest queue served while the keys load is a kept claim: the open waits in the same FIFO as steps", () => {
    // What voided honest sessions under load: the open (keys load through the evaluation FIFO) met the stated queue,
    // then the first step found it drained; the old check subtracted the whole open time, queue wait included, and
    // called the claim a lie. Numbers of such a session: stated wait 3 s at 500 ms a step, the open took 2.9 s.
    const report = { planId: "", protocols: [], software: "", uptimeMs: 0, load: { sessions: 4, maxSessions: 8, inflight: 6, maxInflight: 8 },
      queue: { depth: 6, workers: 1, recentStepMs: 500, recentSteps: 32, expectedWaitMs: 3_000 } };
    const honest = [{ index: 0, ms: 2_900 + 520 }, { index: 1, ms: 510 }, { index: 2, ms: 505 }];
    assert.equal(brokenClaim(report, honest), false, "the wait was served (during the open)");
    // A liar stating the same queue with none: the open takes its key load (~0.3 s) and the step its own time.
    const liar = [{ index: 0, ms: 300 + 510 }, { index: 1, ms: 505 }, { index: 2, ms: 500 }];
    assert.equal(brokenClaim(report, liar), true, "no wait anywhere: a lie");
    assert.equal(brokenClaim({ ...report, queue: { ...report.queue, expectedWaitMs: 0, recentStepMs: 4_000 } }, honest), true,
      "slow steps claimed, fast steps met");
  });
});

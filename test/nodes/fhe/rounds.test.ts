import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { TxStepper } from "../../../nodes/client/tx-rounds.ts";
import { compileGraph } from "../../../nodes/fhe/graph-compiler.ts";
import { RoundClient } from "../../../nodes/fhe/round-client.ts";
import { RoundEvaluator } from "../../../nodes/fhe/round-evaluator.ts";
import { compileRoundPlan, type RoundPlanOptions } from "../../../nodes/fhe/round-plan.ts";
import { GraphBuilder, onnx } from "../../../nodes/train/onnx-builder.ts";
import { parseTransformerClient } from "../../../nodes/model/transformer-client.ts";
import { exportTransformerOnnx, writeTransformerClient } from "../../../nodes/train/transformer-export.ts";
import { initTransformer, tensor, toFheForm } from "../../../nodes/train/transformer.ts";
import { TxOnnxLm } from "../../../nodes/model/tx-onnx.ts";

// A small transformer of the shipped structure (width 32, window 8, FFN 32, 200 words padded to 4,096): every op of
// the round compiler — the cache append, row scores against the cache, the weighted mix of its rows, matrices on
// several registers, sums of registers, the square, client refreshes — on real node-seal ciphertexts, against
// onnxruntime on the same ONNX.
const shape = { vocab: 200, embed: 8, shift: 4, ff: 32, window: 8 };
const rng = createRng(21);
const params = toFheForm(initTransformer(shape, rng), 0.9, 1.1, [0.05, 0.6, 0.25]);
for (const k of ["rel", "bo", "b1", "b2", "bU"] as const) { const v = tensor(params, k); for (let i = 0; i < v.length; i++) v[i] = v[i]! + (rng.next() - 0.5) * 0.4; }
const onnxBytes = exportTransformerOnnx(params, 4096);
const dir = mkdtempSync(join(tmpdir(), "cerberus-rounds-"));
writeTransformerClient(join(dir, "t.client.json"), Array.from({ length: shape.vocab }, (_, i) => (i === 0 ? "<unk>" : `w${i}`)), params, 4096, false);
const model = parseTransformerClient(readFileSync(join(dir, "t.client.json")), new Uint8Array(readFileSync(join(dir, "t.client.bin"))));
rmSync(dir, { recursive: true, force: true });

const PLANS: { name: string; options: Partial<RoundPlanOptions>; rounds: number; tol: number }[] = [
  { name: "2 rounds, 5 levels (n8192-l5)", options: { params: "n8192-l5", cuts: [] }, rounds: 2, tol: 5e-3 },
  { name: "3 rounds, 3 levels, square on the client (n8192-l3s, the shipped plan)", options: { params: "n8192-l3s", cuts: ["h"] }, rounds: 3, tol: 5e-3 },
  { name: "4 rounds, 2 levels, square on the client (n8192-l2)", options: { params: "n8192-l2", cuts: ["u", "h"] }, rounds: 4, tol: 5e-3 },
];

for (const plan of PLANS) {
  test(`round plan ${plan.name}: scores and logits of 9 words equal onnxruntime's (prefill, cache appends, window restarts)`, async (t) => {
    const compiled = compileRoundPlan(onnxBytes, plan.options);
    assert.equal(compiled.descriptor.rounds.length, plan.rounds);
    const ev = await RoundEvaluator.create(onnxBytes, plan.options);
    const client = await RoundClient.create(compiled, ev.descriptor);
    const ref = await TxOnnxLm.create(onnxBytes, model);
    const session = await ev.openSession(client.keygen());
    try {
      const stepper = new TxStepper(model, client);
      const history = [3, 17, 5];
      let maxScoreErr = 0, maxLogitErr = 0, prefills = 0;
      for (let w = 0; w < 9; w++) {
        const r = await stepper.step(history, (round, build) => session.evaluateRound(round, build(false)));
        const want = await ref.run(history);
        const n = r.k - r.ws + 1;
        for (let j = 0; j < n; j++) maxScoreErr = Math.max(maxScoreErr, Math.abs(r.scores[j]! - want.scores[j]!));
        for (let i = 0; i < shape.vocab; i++) maxLogitErr = Math.max(maxLogitErr, Math.abs(r.logits[i]! - want.logits[i]!));
        if (r.prefill) prefills++;
        assert.equal(r.rounds.length, plan.rounds);
        assert.ok(session.stateBytes > 0, "the cache lives between words");
        // The memory a session holds besides its keys stays within what the miner budgets for it (session-budget.ts).
        assert.ok(session.stateBytes <= 3 * compiled.descriptor.caps.cacheBytes, `state ${session.stateBytes} B`);
        history.push(1 + ((w * 7) % (shape.vocab - 1)));
      }
      // Positions 2 … 10 with a window of 8: the first step prefills, position 8 restarts the window at 4.
      assert.equal(prefills, 2);
      t.diagnostic(`${plan.name}: max |error| scores ${maxScoreErr.toExponential(2)}, logits ${maxLogitErr.toExponential(2)}`);
      assert.ok(maxScoreErr < plan.tol, `scores max error ${maxScoreErr}`);
      assert.ok(maxLogitErr < plan.tol, `logits max error ${maxLogitErr}`);
    } finally {
      session.close();
      assert.equal(session.stateBytes, 0, "closing the session drops its cache");
      client.dispose();
      ev.dispose();
      await ref.release();
    }
  });
}

test("rounds out of order, a first step without its prefill, a wrong input count: typed errors, and the session keeps serving", async () => {
  const options = { params: "n8192-l5", cuts: [] };
  const ev = await RoundEvaluator.create(onnxBytes, options);
  const client = await RoundClient.create(ev.plan);
  const session = await ev.openSession(client.keygen());
  try {
    const row = model.row([4, 5, 6], 2);
    await assert.rejects(session.evaluateRound(1, [client.encryptWeights(1, [1])]), (e: unknown) => isCerberusError(e, "FHE_ROUND_ORDER"));
    await assert.rejects(session.evaluateRound(0, [client.encryptQuery(row, 0)]), (e: unknown) => isCerberusError(e, "FHE_ROUND_ORDER"));
    await assert.rejects(session.evaluateRound(0, []), (e: unknown) => isCerberusError(e, "FHE_SHAPE"));
    await assert.rejects(session.evaluateRound(7, []), (e: unknown) => isCerberusError(e, "FHE_ROUND_ORDER"));
    const stepper = new TxStepper(model, client);
    const r = await stepper.step([4, 5, 6], (round, build) => session.evaluateRound(round, build(false)));
    assert.equal(r.logits.length, 4096);
    assert.equal(session.nextRound, 0);
  } finally {
    session.close();
    client.dispose();
    ev.dispose();
  }
});

test("an op outside the supported set fails at compile time with a typed error naming the op and the node", () => {
  const g = new GraphBuilder("bad");
  g.input("x", [8, 32]);
  g.input("xq", [1, 32]);
  g.input("sbias", [1, 8]);
  g.floatInit("A", [32, 32], new Float32Array(32 * 32));
  g.node("Tanh", [g.node("MatMul", ["xq", "A"], {}, "qk")], {}, "the_tanh");
  g.node("MatMul", ["the_tanh", g.node("Transpose", ["x"], { perm: [1, 0] }, "xT")], {}, "scores");
  g.output("scores", [1, 8]);
  const m = onnx.ModelProto.decode(g.build());
  m.metadataProps = [["cerberus.graph", "transformer/1"], ["cerberus.cache", "x"], ["cerberus.query", "xq"], ["cerberus.client", "sbias"], ["cerberus.result", "scores"]]
    .map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  const bytes = onnx.ModelProto.encode(m).finish();
  assert.throws(() => compileGraph(bytes), (e: unknown) => isCerberusError(e, "FHE_UNSUPPORTED_OP") && /Tanh/.test((e as Error).message) && /the_tanh/.test((e as Error).message));
});

test("the wire bounds rounds: a step header's round is 0 … 7, echoed by the result; the session budget counts the cache", async () => {
  const { StepHeader, ResultHeader, PROTOCOL_VERSION } = await import("../../../nodes/net/messages.ts");
  const { sessionBudget } = await import("../../../nodes/miner/session-budget.ts");
  const step = { v: PROTOCOL_VERSION, type: "step", sessionId: "ab".repeat(16), seq: 3, parts: [100] };
  assert.ok(StepHeader.safeParse({ ...step, round: 1 }).success);
  assert.ok(StepHeader.safeParse(step).success, "absent = round 0 (chain plans)");
  for (const round of [8, -1, 1.5, "1"]) assert.equal(StepHeader.safeParse({ ...step, round }).success, false, `round ${String(round)}`);
  assert.ok(ResultHeader.safeParse({ ...step, type: "result", round: 7 }).success);
  const caps = compileRoundPlan(onnxBytes, { params: "n8192-l5", cuts: [] }).descriptor.caps;
  const withCache = sessionBudget(caps, 1, 2 ** 34), without = sessionBudget({ ...caps, cacheBytes: 0 }, 1, 2 ** 34);
  assert.equal(withCache.perSessionBytes - without.perSessionBytes, 3 * caps.cacheBytes);
});

#!/usr/bin/env -S npx tsx
// `npm run bench:tolerance`: the honest error of a transformer Brain's round plan as validators judge it — what the
// round plan's tolerance (ROUND_PLAN_TOLERANCE) must sit above. Honest sessions over held-out text, each with fresh
// keys (the error depends on the key's noise, and every user and probe has its own), every round decrypted and
// compared with onnxruntime by the validator's own measure (PlaintextReference.checkRounds). Client and
// miner in one process, no network. Writes bench/results/tolerance-<model>.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { loadBrainModel } from "../nodes/client/brain-model.ts";
import { TxStepper } from "../nodes/client/tx-rounds.ts";
import { createRng } from "../nodes/core/prng.ts";
import { median, quantile } from "../nodes/core/stats.ts";
import { RoundClient } from "../nodes/fhe/round-client.ts";
import { RoundEvaluator } from "../nodes/fhe/round-evaluator.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { writeTinyTransformer } from "../nodes/train/tiny-tx.ts";
import { PlaintextReference } from "../nodes/validator/challenge.ts";
import { isWrong, scoringFor } from "../nodes/validator/scoring.ts";

const program = new Command()
  .name("bench-tx-tolerance")
  .description("Honest CKKS error of a transformer Brain's round plan, as validators measure it, against the tolerance")
  .option("--model <name>", "brown-tx (committed) or tiny-tx (the tests' small transformer)", "brown-tx")
  .option("--model-dir <dir>", "model folder (brown-tx)", "models")
  .option("--sessions <n>", "sessions, each with fresh keys", (v) => Number.parseInt(v, 10), 24)
  .option("--words <n>", "most words per session (uniform 1 … n, after a prompt of 3–12 words)", (v) => Number.parseInt(v, 10), 12)
  .option("--seed <n>", "text positions and lengths", (v) => Number.parseInt(v, 10), 1)
  .option("--json <file>", "results (default bench/results/tolerance-<model>.json)")
  .parse();
const o = program.opts<{ model: string; modelDir: string; sessions: number; words: number; seed: number; json?: string }>();
process.env.CERBERUS_LOG_LEVEL ??= "warn";

const splits = loadBrownSplits();
let tmp: string | undefined;
if (o.model === "tiny-tx") {
  tmp = mkdtempSync(join(tmpdir(), "cerberus-tolerance-"));
  writeTinyTransformer(tmp, { words: splits.vocab.words.slice(0, 600), name: "tiny-tx" });
}
const model = loadBrainModel({ dir: tmp ?? o.modelDir, name: o.model });
if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
if (model.kind !== "transformer") throw new Error(`${o.model} is not a transformer Brain`);
const rule = scoringFor("transformer");
const ev = await RoundEvaluator.create(model.onnxBytes, model.planOptions);
const reference = await PlaintextReference.create(model);
const V = model.client.vocab.size;
const rng = createRng(o.seed);
const names = model.plan.outputs.map((x) => x.name);
const judged = new Map<string, number[]>(names.map((n) => [n, []]));
const absolute = new Map<string, number[]>(names.map((n) => [n, []]));
const overall: number[] = [];
const sessionMax: number[] = [];
let wrong = 0, top1Flips = 0;
const started = performance.now();
try {
  for (let s = 0; s < o.sessions; s++) {
    // A fresh client is a fresh secret key, as every user's and every probe's session has.
    const fhe = await RoundClient.create(ev.plan);
    const session = await ev.openSession(fhe.keygen());
    const before = overall.length;
    try {
      const stepper = new TxStepper(model.client, fhe);
      const prompt = 3 + rng.int(10), n = 1 + rng.int(o.words);
      const start = rng.int(splits.valid.length - prompt - n);
      const ids = Array.from(splits.valid.subarray(start, start + prompt + n), (id) => model.client.vocab.idOf(splits.vocab.words[id]!));
      for (let i = prompt; i < prompt + n; i++) {
        const history = ids.slice(0, i);
        const r = await stepper.step(history, (round, build) => session.evaluateRound(round, build(false)));
        const { outcome: verdict, values } = await reference.checkRounds({ index: i - prompt, input: new Float32Array(0), logits: r.logits, history, rounds: r.rounds, ms: 0, miner: "" }, V, 0);
        overall.push(verdict.maxRelError);
        if (isWrong(verdict, rule)) wrong++;
        if (!verdict.top1Match) top1Flips++;
        for (const v of values) {
          judged.get(v.name)!.push(v.judged);
          absolute.get(v.name)!.push(v.absolute);
        }
      }
    } finally {
      session.close();
      fhe.dispose();
    }
    sessionMax.push(Math.max(0, ...overall.slice(before)));
    process.stderr.write(`session ${s + 1}/${o.sessions}: ${overall.length} words\n`);
  }
} finally {
  ev.dispose();
  await reference.release();
}

const dist = (v: readonly number[]) => ({ median: median(v), p99: quantile(v, 0.99), max: Math.max(0, ...v) });
const rows = names.map((name) => ({ value: name, judged: dist(judged.get(name)!), absolute: dist(absolute.get(name)!) }));
const all = dist(overall);
const result = {
  what: "honest CKKS error of the round plan as validators judge it (PlaintextReference.check: max over rounds of |error| / max(range, magnitude, 1)), fresh keys per session, client and miner in one process",
  date: new Date().toISOString(), model: o.model, plan: model.planOptions, machine: { cores: cpus().length, loadavg_1m_at_end: +loadavg()[0]!.toFixed(2) },
  options: { sessions: o.sessions, words: o.words, seed: o.seed }, words: overall.length, seconds: Math.round((performance.now() - started) / 1000),
  tolerance: rule.tolerance, overall: all, margin: all.max > 0 ? +(rule.tolerance / all.max).toFixed(2) : null, wrong, top1_flips: top1Flips, values: rows,
  /** Per session (fresh keys), the worst judged error of its words: how much the error moves from key to key. */
  session_max: sessionMax.map((x) => +x.toExponential(3)),
};
const e = (x: number) => x.toExponential(2);
console.log(`\nbench:tolerance — ${o.model} (${JSON.stringify(model.planOptions)}), ${overall.length} honest words in ${o.sessions} sessions with fresh keys`);
console.table(rows.map((r) => ({ value: r.value, "judged p50": e(r.judged.median), "judged p99": e(r.judged.p99), "judged max": e(r.judged.max),
  "|error| p50": e(r.absolute.median), "|error| max": e(r.absolute.max) })));
console.log(`worst per word: median ${e(all.median)}, max ${e(all.max)}; tolerance ${rule.tolerance} (margin ${result.margin}); wrong ${wrong}, top-1 flips ${top1Flips}`);
const file = o.json ?? `bench/results/tolerance-${o.model}.json`;
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${file}`);

// npm run bench:model — evaluates every Brown LM on the test split and writes bench/results/model.json
// (keys fixed by issue 4). `npm run bench:model -- --help` for options.
import { Command } from "commander";
import cliProgress from "cli-progress";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { z } from "zod";
import { createLogger } from "../nodes/core/log.ts";
import { loadCheckpoint } from "../nodes/model/checkpoint.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { MlpEngine } from "../nodes/model/engine.ts";
import { evaluateKnBaseline } from "../nodes/model/kn-baseline.ts";
import { loadClientModel, loadMinerModel, sha256Hex } from "../nodes/model/lm.ts";
import type { Activation, MlpParams } from "../nodes/model/mlp.ts";
import { FIRST_PREDICTED, PerplexityAccumulator } from "../nodes/model/perplexity.ts";
import { perplexity, type Stream } from "../nodes/model/trainer.ts";

const Manifest = z.object({
  name: z.string(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  squeezeRate: z.number(),
  trainSeconds: z.number(),
  shapes: z.object({ vocab: z.number().int(), vPad: z.number().int() }),
  test: z.object({ float: z.number(), naivePoly: z.number(), curve: z.array(z.object({ rate: z.number(), ppl: z.number() })) }),
});

async function evalCheckpoint(path: string, test: Stream): Promise<number> {
  const { params, act } = loadCheckpoint(path);
  const engine = await MlpEngine.create(params, act.kind, false);
  try { return await perplexity(engine, params, act, test); } finally { await engine.release(); }
}

async function main(): Promise<void> {
  const cmd = new Command("bench:model")
    .description("Test-split perplexity of the KN trigram, float, naive-poly and squeezed LMs (+ the exported ONNX)")
    .option("--models <dir>", "artifact directory", "models")
    .option("--checkpoints <dir>", "training checkpoints (re-evaluated when present, else the manifest's test numbers are used)", "models/checkpoints")
    .option("--out <file>", "result JSON", "bench/results/model.json")
    .option("--max-words <n>", "corpus prefix (only to check artifacts of a `npm run train -- --max-words N` run)")
    .parse();
  const o = cmd.opts<{ models: string; checkpoints: string; out: string; maxWords?: string }>();
  const slice = o.maxWords ? { maxWords: Number(o.maxWords) } : {};
  const log = createLogger("bench-model");
  const manifest = Manifest.parse(JSON.parse(readFileSync(join(o.models, "manifest.json"), "utf8")));
  for (const [file, sha] of Object.entries(manifest.files)) {
    if (sha256Hex(readFileSync(join(o.models, file))) !== sha) throw new Error(`${file}: sha256 differs from the manifest`);
  }
  const splits = loadBrownSplits(slice);
  const test: Stream = { ids: splits.test, start: FIRST_PREDICTED };
  const V = splits.vocab.words.length;
  const client = loadClientModel(join(o.models, `${manifest.name}.client.json`));
  const { model: miner } = loadMinerModel(join(o.models, `${manifest.name}.onnx`), V);
  if (client.vocab.size !== V || miner.vocab !== V || !splits.vocab.words.every((w) => client.vocab.has(w))) {
    throw new Error("artifact vocabulary differs from the corpus vocabulary");
  }
  // The squeezed models may use their own word order (relabel.ts): rename the test ids through the client's words.
  const clientTest: Stream = { ...test, ids: test.ids.map((id) => client.vocab.idOf(splits.vocab.words[id]!)) };

  log.info("Kneser-Ney trigram baseline (tuned on validation)");
  const kn = evaluateKnBaseline(slice);

  // Float, naive and the squeeze curve: re-evaluated from checkpoints when they exist (same numbers the train
  // script recorded), otherwise taken from the manifest (the checkpoints are not committed).
  const ck = (name: string) => join(o.checkpoints, name);
  const haveCk = existsSync(`${ck("float")}.json`);
  const pplFloat = haveCk ? await evalCheckpoint(ck("float"), test) : manifest.test.float;
  const pplNaive = haveCk ? await evalCheckpoint(ck("naive"), test) : manifest.test.naivePoly;
  const curve: { rate: number; ppl: number }[] = [];
  for (const m of manifest.test.curve) {
    const path = ck(`squeezed-r${m.rate}`);
    curve.push({ rate: m.rate, ppl: existsSync(`${path}.json`) ? await evalCheckpoint(path, clientTest) : m.ppl });
  }

  // The shipped model from the committed artifacts: (a) through the training engine, (b) the .onnx file itself.
  const W2 = new Float32Array(miner.hidden * V), b2 = miner.b2.slice(0, V);
  for (let k = 0; k < miner.hidden; k++) W2.set(miner.W2.subarray(k * miner.vPad, k * miner.vPad + V), k * V);
  const shipped: MlpParams = { shape: { vocab: V, n: client.n, embed: client.embed, hidden: miner.hidden }, C: client.embeddings, W1: miner.W1, b1: miner.b1, W2, b2 };
  const act: Activation = { kind: "poly", c: miner.c };
  const engine = await MlpEngine.create(shipped, "poly", false);
  const pplSqueezed = await perplexity(engine, shipped, act, clientTest);
  await engine.release();

  const session = await ort.InferenceSession.create(readFileSync(join(o.models, `${manifest.name}.onnx`)), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const acc = new PerplexityAccumulator();
  const bar = new cliProgress.SingleBar({ format: "ONNX test pass [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}" }, cliProgress.Presets.shades_classic);
  bar.start(clientTest.ids.length - clientTest.start, 0);
  const t0 = performance.now();
  for (let i = clientTest.start; i < clientTest.ids.length; i++) {
    const x = client.contextInput(Array.from(clientTest.ids.subarray(i - client.n + 1, i)));
    const logits = (await session.run({ x: new ort.Tensor("float32", x, [1, x.length]) })).logits.data as Float32Array;
    let max = -Infinity;
    for (let k = 0; k < V; k++) if (logits[k] > max) max = logits[k];
    let z = 0;
    for (let k = 0; k < V; k++) z += Math.exp(logits[k] - max);
    acc.add(logits[clientTest.ids[i]] - max - Math.log(z));
    if ((i & 1023) === 0) bar.update(i - clientTest.start);
  }
  bar.update(clientTest.ids.length - clientTest.start);
  bar.stop();
  await session.release();
  const onnxSeconds = (performance.now() - t0) / 1000;
  const pplOnnx = acc.result().ppl;

  const result = {
    vocab: V,
    test_words: splits.test.length,
    ppl_kn_trigram: kn.ppl_kn_trigram,
    ppl_float: pplFloat,
    ppl_naive_poly: pplNaive,
    ppl_squeezed: pplSqueezed,
    ppl_squeezed_onnx: pplOnnx,
    squeeze_rate: manifest.squeezeRate,
    squeeze_curve: curve,
    train_seconds: manifest.trainSeconds,
  };
  mkdirSync(join(o.out, ".."), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");

  const f = (v: number) => v.toFixed(1).padStart(8);
  const rows: [string, string][] = [
    ["Bengio et al. 2003: Kneser-Ney back-off trigram", "     323"],
    ["Bengio et al. 2003: best MLP (MLP10 / MLP9)", " 252-276"],
    ["ours: interpolated modified KN trigram (tuned on valid)", f(kn.ppl_kn_trigram)],
    ["ours: float MLP (tanh)", f(pplFloat)],
    ["ours: naive poly (tanh → fitted p, no fine-tune)", f(pplNaive)],
    ...curve.map((c): [string, string] => [`ours: squeezed, r = ${c.rate}${c.rate === manifest.squeezeRate ? " (shipped)" : ""}`, f(c.ppl)]),
    ["ours: shipped model from artifacts (ORT training engine)", f(pplSqueezed)],
    ["ours: shipped model, models/brown-lm.onnx via onnxruntime-node", f(pplOnnx)],
  ];
  console.log(`\nBrown corpus test perplexity (vocab ${V}, ${acc.predicted} predicted words; ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(64)} ${v}`);
  console.log(`  squeezed / float = ${(pplSqueezed / pplFloat).toFixed(4)} (target ≤ 1.05); ONNX pass ${onnxSeconds.toFixed(0)} s; train ${manifest.trainSeconds} s${haveCk ? "" : " (float/naive/curve from manifest: no checkpoints)"}`);
  console.log(`wrote ${o.out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

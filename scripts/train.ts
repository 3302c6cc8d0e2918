// npm run train — trains the Brown LM end to end and writes models/brown-lm.{onnx,client.json,client.bin} and
// models/manifest.json (see README "## Model"). Run `npm run train -- --help` for the options.
import { Command } from "commander";
import cliProgress from "cli-progress";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../nodes/core/log.ts";
import { loadCheckpoint, saveCheckpoint } from "../nodes/train/checkpoint.ts";
import { KneserNeyTrigram, tuneDiscounts } from "../nodes/model/kn.ts";
import { fitMixture } from "../nodes/train/mixture-fit.ts";
import { LmMixture } from "../nodes/model/mixture.ts";
import { streamPerplexity } from "../nodes/model/perplexity.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { MlpEngine } from "../nodes/train/engine.ts";
import { sha256Hex, writeClientModel } from "../nodes/model/lm.ts";
import { inputSize } from "../nodes/train/mlp.ts";
import { exportMinerOnnx, toMinerModel } from "../nodes/train/onnx-export.ts";
import { paddedVocab } from "../nodes/model/miner-model.ts";
import { DEFAULT_CONFIG, runPipeline, streams, type PipelineConfig } from "../nodes/train/pipeline.ts";
import { relabelIds } from "../nodes/train/relabel.ts";
import { perplexity, targetProbs } from "../nodes/train/trainer.ts";

const MODEL_NAME = "brown-lm";

async function main(): Promise<void> {
  const d = DEFAULT_CONFIG;
  const cmd = new Command("train")
    .description("Train the Brown LM: float MLP, polynomial fine-tune, diagonal squeeze curve, quantization, ONNX export")
    .option("--out <dir>", "artifact directory", "models")
    .option("--checkpoints <dir>", "where per-stage checkpoints go (git-ignored; the bench re-evaluates them)", "models/checkpoints")
    .option("--max-words <n>", "use only the first N corpus words (quick runs; the split keeps the paper's proportions)")
    .option("--seed <n>", "PRNG seed", String(d.seed))
    .option("--float-epochs <n>", "epochs of float (tanh) training (early stopping on validation)", String(d.float.epochs))
    .option("--poly-epochs <n>", "epochs of polynomial fine-tuning at r = 0", String(d.poly.epochs))
    .option("--squeeze-epochs <n>", "epochs of fine-tuning at each squeeze rate", String(d.squeeze.epochs))
    .option("--rates <list>", "squeeze rates after r = 0, comma-separated", d.squeeze.rates.join(","))
    .option("--squeeze-alpha <x>", "distillation weight in the squeeze stages (0 = data loss only, cheaper)", String(d.squeeze.alpha))
    .option("--no-relabel", "keep corpus ids and hidden order (no diagonal-aware relabeling before pruning)")
    .option("--resume-float <checkpoint>", "skip float training: load this float checkpoint (e.g. models/checkpoints/float) from an earlier run")
    .option("--resume-float-seconds <s>", "wall seconds the earlier run spent up to that checkpoint (added to trainSeconds)", "0")
    .option("--quant-bits <n>", "weights/biases rounded to multiples of 2^-bits", String(d.quantBits))
    .parse();
  const o = cmd.opts<{ out: string; checkpoints: string; maxWords?: string; seed: string; floatEpochs: string; polyEpochs: string; squeezeEpochs: string; rates: string; quantBits: string; squeezeAlpha: string; resumeFloat?: string; resumeFloatSeconds: string; relabel: boolean }>();
  const num = (s: string, name: string) => { const v = Number(s); if (!Number.isFinite(v) || v < 0) { cmd.error(`--${name} must be a non-negative number`); } return v; };
  const cfg: PipelineConfig = {
    ...d,
    seed: num(o.seed, "seed"),
    float: { ...d.float, epochs: num(o.floatEpochs, "float-epochs") },
    poly: { ...d.poly, epochs: num(o.polyEpochs, "poly-epochs") },
    squeeze: { ...d.squeeze, epochs: num(o.squeezeEpochs, "squeeze-epochs"), rates: o.rates.split(",").map((r) => num(r, "rates")), alpha: num(o.squeezeAlpha, "squeeze-alpha"), relabel: o.relabel },
    quantBits: num(o.quantBits, "quant-bits"),
  };
  const log = createLogger("train");
  const t0 = performance.now();
  const splits = loadBrownSplits(o.maxWords ? { maxWords: num(o.maxWords, "max-words") } : {});
  log.info({ vocab: splits.vocab.words.length, train: splits.train.length, valid: splits.valid.length, test: splits.test.length, cfg }, "data loaded");

  const bars = new cliProgress.MultiBar({
    format: "{phase} [{bar}] {percentage}% | {value}/{total} steps | ETA {eta_formatted} | loss {loss} | valid ppl {validPpl}",
    hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  let lastValid = "-";
  const progress = (phase: string, total: number) => {
    const b = bars.create(total, 0, { phase: phase.padEnd(22), loss: "-", validPpl: lastValid });
    return {
      update(done: number, info: Record<string, number | undefined>) {
        if (info.validPpl !== undefined) lastValid = info.validPpl.toFixed(1);
        b.update(done, { phase: phase.padEnd(22), loss: info.loss?.toFixed(2) ?? "-", validPpl: lastValid });
      },
      stop() { b.stop(); },
    };
  };
  const resumed = o.resumeFloat ? loadCheckpoint(o.resumeFloat).params : undefined;
  const earlierSeconds = num(o.resumeFloatSeconds, "resume-float-seconds");
  const res = await runPipeline(splits, cfg, log, progress, (name, p, act) => saveCheckpoint(join(o.checkpoints, name), p, act), resumed);
  bars.stop();
  const thisRunSeconds = (performance.now() - t0) / 1000;
  const trainSeconds = thisRunSeconds + earlierSeconds;

  // Test-split evaluation of every stage (reported only; no choice above looked at it).
  const { test, valid } = streams(splits);
  const eng = await MlpEngine.create(res.float.params, "poly", false);
  const tEng = await MlpEngine.create(res.float.params, "tanh", false);
  const testPpl = {
    float: await perplexity(tEng, res.float.params, { kind: "tanh" }, test),
    naivePoly: await perplexity(eng, res.float.params, { kind: "poly", c: res.naive.c }, test),
    curve: [] as { rate: number; ppl: number }[],
  };
  // The squeezed models speak the relabeled vocabulary (if any): rename the test ids the same way.
  const squeezedTest = res.relabeling ? { ...test, ids: relabelIds(test.ids, res.relabeling) } : test;
  for (const m of res.curve) testPpl.curve.push({ rate: m.rate, ppl: await perplexity(eng, m.params, { kind: "poly", c: m.c }, squeezedTest) });
  await eng.release(); await tEng.release();

  // 6. The client mixture (mixture.ts) of the shipped model: KN trigram + cache, weights fitted on validation.
  const tMix = performance.now();
  const toModel = (ids: Int32Array) => (res.relabeling ? relabelIds(ids, res.relabeling) : ids);
  const trainM = toModel(splits.train), validM = toModel(splits.valid), testM = toModel(splits.test);
  const kn0 = KneserNeyTrigram.fromTrain(trainM, splits.vocab.words.length);
  const kn = kn0.withDiscounts(tuneDiscounts(kn0, validM).discounts);
  const s = res.shipped;
  const shippedAct = { kind: "poly", c: s.c } as const;
  const mixEng = await MlpEngine.create(s.params, "poly", false);
  const mixOpts = o.maxWords ? { corpusMaxWords: num(o.maxWords, "max-words") } : {};
  const fit = fitMixture(kn, trainM, validM, await targetProbs(mixEng, s.params, shippedAct, { ids: validM, start: valid.start }), mixOpts);
  const testShippedP = await targetProbs(mixEng, s.params, shippedAct, { ids: testM, start: test.start });
  await mixEng.release();
  // The float twin with its own mixture (same recipe), so "squeezed ≤ 1.05 × float" compares like with like.
  const fEng = await MlpEngine.create(res.float.params, "tanh", false);
  const floatFit = fitMixture(kn, trainM, validM, await targetProbs(fEng, res.float.params, { kind: "tanh" }, valid), mixOpts);
  await fEng.release();
  const mixSeconds = (performance.now() - tMix) / 1000;
  const mixture = new LmMixture(kn, fit.config);
  const testMixed = streamPerplexity(testM, (i) => Math.log(mixture.prob(testM[i]!, testShippedP[i - test.start]!, testM.subarray(0, i)))).ppl;
  log.info({ valid: fit.valid, floatValid: floatFit.valid, test: testMixed, mixSeconds }, "client mixture fitted");

  // Export the shipped model, its mixture and the float twin (bench:model re-measures both from these files).
  mkdirSync(o.out, { recursive: true });
  const vPad = paddedVocab(s.params.shape.vocab);
  const onnxBytes = exportMinerOnnx(toMinerModel(s.params, s.c, vPad));
  writeFileSync(join(o.out, `${MODEL_NAME}.onnx`), onnxBytes);
  const words = res.relabeling ? Array.from(res.relabeling.vocab, (old) => splits.vocab.words[old]) : splits.vocab.words;
  const client = writeClientModel(join(o.out, `${MODEL_NAME}.client.json`), words, cfg.n, cfg.embed, vPad, s.params.C, false);
  const mixtureJson = new TextEncoder().encode(JSON.stringify(fit.config, null, 2) + "\n");
  writeFileSync(join(o.out, `${MODEL_NAME}.mixture.json`), mixtureJson);
  const floatBase = join(o.out, `${MODEL_NAME}.float`);
  saveCheckpoint(floatBase, res.float.params, { kind: "tanh" });
  const floatFiles = { json: readFileSync(`${floatBase}.json`), bin: readFileSync(`${floatBase}.bin`) };
  const manifest = {
    name: MODEL_NAME,
    files: {
      [`${MODEL_NAME}.onnx`]: sha256Hex(onnxBytes),
      [`${MODEL_NAME}.client.json`]: sha256Hex(client.json),
      [`${MODEL_NAME}.client.bin`]: sha256Hex(client.bin),
      [`${MODEL_NAME}.mixture.json`]: sha256Hex(mixtureJson),
      [`${MODEL_NAME}.float.json`]: sha256Hex(floatFiles.json),
      [`${MODEL_NAME}.float.bin`]: sha256Hex(floatFiles.bin),
    },
    modelHash: sha256Hex(onnxBytes),
    sizes: { onnx: onnxBytes.byteLength, clientJson: client.json.byteLength, clientBin: client.bin.byteLength, mixtureJson: mixtureJson.byteLength, floatBin: floatFiles.bin.byteLength },
    shapes: { n: cfg.n, embed: cfg.embed, input: inputSize(s.params.shape), hidden: cfg.hidden, vocab: s.params.shape.vocab, vPad },
    activation: { form: "p(h) = c0 + c1*h + c2*h^2", coefficients: s.c, naiveFit: res.naive.c, naiveMaxFitError: res.naive.maxFitError, range: res.range },
    squeezeRate: s.rate,
    relabeled: res.relabeling
      ? { forRate: cfg.squeeze.rates[0], note: "hidden units and word ids renamed for diagonal pruning (nodes/train/relabel.ts); client.json lists the words in the model's id order" }
      : false,
    zeroDiagonals: s.zeroDiagonals,
    hiddenOnTrainSample: s.hidden,
    quantization: { weightsAndBiases: `multiples of 2^-${cfg.quantBits}`, bits: cfg.quantBits, method: "post-training round-to-nearest of W1, b1, W2, b2 (measured below)", coefficients: "float32", embeddings: "float32 (client side)" },
    // Training = the pipeline + the mixture fit; wall = the whole command (data, test-split report and export too).
    trainSeconds: Math.round(trainSeconds + mixSeconds),
    wallSeconds: Math.round((performance.now() - t0) / 1000),
    trainRuns: o.resumeFloat
      ? { floatFrom: o.resumeFloat, floatRunSeconds: earlierSeconds, thisRunSeconds: Math.round(thisRunSeconds), argv: process.argv.slice(2) }
      : { thisRunSeconds: Math.round(thisRunSeconds), argv: process.argv.slice(2) },
    seed: cfg.seed,
    config: cfg,
    corpus: { vocab: splits.vocab.words.length, train: splits.train.length, valid: splits.valid.length, test: splits.test.length, testPredicted: test.ids.length - test.start },
    validation: {
      float: res.float.validPpl, naivePoly: res.naive.validPpl, target: cfg.target, metTarget: res.metTarget,
      curve: res.curve.map((m) => ({ rate: m.rate, ppl: m.validPpl, pplQuantized: m.validPplQuantized })),
      mixture: { shipped: fit.valid, float: floatFit.valid, seconds: Math.round(mixSeconds) },
    },
    mixture: {
      file: `${MODEL_NAME}.mixture.json`,
      note: "client-side: P = λ_mlp·P_mlp + λ_kn·P_KN-trigram + λ_cache·P_unigram-cache, λ per c(u v ·) bucket, fitted on validation (nodes/model/mixture.ts)",
      cacheSize: fit.config.cache.size,
    },
    test: { ...testPpl, shippedWithMixture: testMixed },
  };
  writeFileSync(join(o.out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  log.info({ trainSeconds: manifest.trainSeconds, wallSeconds: manifest.wallSeconds, shipped: s.rate, test: manifest.test, files: manifest.files }, "done");
  console.log(JSON.stringify({ trainSeconds: manifest.trainSeconds, wallSeconds: manifest.wallSeconds, squeezeRate: s.rate, validation: manifest.validation, test: manifest.test }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

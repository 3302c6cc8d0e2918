// npm run train — trains the Brown LM end to end and writes models/brown-lm.{onnx,client.json,client.bin} and
// models/manifest.json (see README "## Model"). Run `npm run train -- --help` for the options.
import { Command } from "commander";
import cliProgress from "cli-progress";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../nodes/core/log.ts";
import { loadCheckpoint, saveCheckpoint } from "../nodes/train/checkpoint.ts";
import { KneserNeyTrigram, tuneDiscounts } from "../nodes/model/kn.ts";
import { fitMixtureInRegime } from "../nodes/train/mixture-fit.ts";
import { LmMixture } from "../nodes/model/mixture.ts";
import { loadBrownSplits, type BrownSplits } from "../nodes/model/corpus.ts";
import { MlpEngine } from "../nodes/train/engine.ts";
import { loadClientModel, loadMinerModel, sha256Hex, writeClientModel } from "../nodes/model/lm.ts";
import { inputSize, type Activation, type MlpParams } from "../nodes/train/mlp.ts";
import type { Logger } from "../nodes/core/log.ts";
import { generationHistoryStarts, regimePerplexity } from "../nodes/model/regime.ts";
import { fitClientSide, type ClientFit } from "../nodes/train/client-fit.ts";
import { mlpFromArtifacts } from "../nodes/train/committed.ts";
import { OnnxLm } from "../nodes/train/onnx-lm.ts";
import { DEFAULT_TRANSFORMER_CONFIG, trainTransformerModel } from "./train-transformer.ts";
import { exportMinerOnnx, toMinerModel } from "../nodes/train/onnx-export.ts";
import { paddedVocab } from "../nodes/model/miner-model.ts";
import { DEFAULT_CONFIG, runPipeline, streams, type PipelineConfig } from "../nodes/train/pipeline.ts";
import { relabelIds } from "../nodes/train/relabel.ts";
import { perplexity, regimeProbs } from "../nodes/train/trainer.ts";

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
    .option("--refit-client", "keep the committed weights: refit only the client mixture (generation regime) and the sampler")
    .option("--model <kind>", "mlp (the Bengio MLP, brown-lm) or transformer (brown-tx; its own options below)", "mlp")
    .option("--tx-float-epochs <n>", "transformer: float epochs", String(DEFAULT_TRANSFORMER_CONFIG.float.epochs))
    .option("--tx-fhe-epochs <n>", "transformer: FHE-form fine-tune epochs", String(DEFAULT_TRANSFORMER_CONFIG.fhe.epochs))
    .option("--tx-prune-epochs <n>", "transformer: epochs per pruning rate", String(DEFAULT_TRANSFORMER_CONFIG.prune.epochs))
    .option("--tx-rates <list>", "transformer: pruning rates, comma-separated", DEFAULT_TRANSFORMER_CONFIG.prune.rates.join(","))
    .option("--tx-ff <n>", "transformer: FFN width", String(DEFAULT_TRANSFORMER_CONFIG.shape.ff))
    .option("--tx-output-dropout <p>", "transformer: dropout on the output layer's input (float training and the FHE-form fine-tune)", String(DEFAULT_TRANSFORMER_CONFIG.float.outputDropout))
    .option("--tx-resume-float <checkpoint>", "transformer: skip float training, load this checkpoint (e.g. models/checkpoints/tx-float)")
    .parse();
  const o = cmd.opts<{ out: string; checkpoints: string; maxWords?: string; seed: string; floatEpochs: string; polyEpochs: string; squeezeEpochs: string; rates: string; quantBits: string; squeezeAlpha: string; resumeFloat?: string; resumeFloatSeconds: string; relabel: boolean; refitClient?: boolean;
    model: string; txFloatEpochs: string; txFheEpochs: string; txPruneEpochs: string; txRates: string; txFf: string; txOutputDropout: string; txResumeFloat?: string }>();
  const num = (s: string, name: string) => { const v = Number(s); if (!Number.isFinite(v) || v < 0) { cmd.error(`--${name} must be a non-negative number`); } return v; };
  if (o.refitClient) return refitClient(o.out, o.maxWords ? num(o.maxWords, "max-words") : undefined, createLogger("train"));
  if (o.model === "transformer") {
    const t = DEFAULT_TRANSFORMER_CONFIG;
    const outputDropout = num(o.txOutputDropout, "tx-output-dropout");
    if (outputDropout >= 1) cmd.error("--tx-output-dropout must be below 1");
    const config = {
      ...t, seed: o.seed === String(d.seed) ? t.seed : num(o.seed, "seed"),
      shape: { ...t.shape, ff: num(o.txFf, "tx-ff") },
      float: { ...t.float, epochs: num(o.txFloatEpochs, "tx-float-epochs"), outputDropout },
      fhe: { ...t.fhe, epochs: num(o.txFheEpochs, "tx-fhe-epochs"), outputDropout },
      prune: { ...t.prune, epochs: num(o.txPruneEpochs, "tx-prune-epochs"), rates: o.txRates.split(",").filter((r) => r !== "").map((r) => num(r, "tx-rates")) },
      quantBits: num(o.quantBits, "quant-bits"),
    };
    return trainTransformerModel({ out: o.out, checkpoints: o.checkpoints, config, argv: process.argv.slice(2),
      ...(o.txResumeFloat !== undefined ? { resumeFloat: o.txResumeFloat } : {}),
      ...(o.maxWords ? { maxWords: num(o.maxWords, "max-words") } : {}) }, createLogger("train"));
  }
  if (o.model !== "mlp") cmd.error(`--model must be mlp or transformer, got ${o.model}`);
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

  // 6. The client side (mixture in the generation regime + sampler), on validation; then the shipped files.
  const toModel = (ids: Int32Array) => (res.relabeling ? relabelIds(ids, res.relabeling) : ids);
  const s = res.shipped;
  const vPad = paddedVocab(s.params.shape.vocab);
  const onnxBytes = exportMinerOnnx(toMinerModel(s.params, s.c, vPad));
  const words = res.relabeling ? Array.from(res.relabeling.vocab, (old) => splits.vocab.words[old]!) : splits.vocab.words;
  const side = await fitMlpClientSide(splits, toModel, s.params, { kind: "poly", c: s.c }, onnxBytes, words, o.maxWords ? num(o.maxWords, "max-words") : undefined, log);
  // The float twin with its own mixture (same recipe), so "squeezed ≤ 1.05 × float" compares like with like.
  const fEng = await MlpEngine.create(res.float.params, "tanh", false);
  const floatFit = fitMixtureInRegime(side.kn, side.trainM, side.validM, side.fromValid,
    await regimeProbs(fEng, res.float.params, { kind: "tanh" }, splits.valid, side.fromValid), o.maxWords ? { corpusMaxWords: num(o.maxWords, "max-words") } : {});
  await fEng.release();

  // Export the shipped model, its mixture and the float twin (bench:model re-measures both from these files).
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, `${MODEL_NAME}.onnx`), onnxBytes);
  const client = writeClientModel(join(o.out, `${MODEL_NAME}.client.json`), words, cfg.n, cfg.embed, vPad, s.params.C, false);
  const mixtureJson = new TextEncoder().encode(JSON.stringify(side.client.config, null, 2) + "\n");
  writeFileSync(join(o.out, `${MODEL_NAME}.mixture.json`), mixtureJson);
  const mixSeconds = side.client.seconds;
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
      mixture: { shipped: side.client.fit.valid, float: floatFit.valid, seconds: Math.round(mixSeconds) },
    },
    mixture: mixtureRecord(side.client),
    test: { ...testPpl, shippedWithMixtureRegime: side.testRegime },
  };
  writeFileSync(join(o.out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  log.info({ trainSeconds: manifest.trainSeconds, wallSeconds: manifest.wallSeconds, shipped: s.rate, test: manifest.test, files: manifest.files }, "done");
  console.log(JSON.stringify({ trainSeconds: manifest.trainSeconds, wallSeconds: manifest.wallSeconds, squeezeRate: s.rate, validation: manifest.validation, test: manifest.test }, null, 2));
}

/** What the manifest says about the client side (mixture.json holds the numbers the client uses). */
function mixtureRecord(c: ClientFit) {
  return {
    file: `${MODEL_NAME}.mixture.json`,
    note: "client-side: P = λ_mlp·P_mlp + λ_kn·P_KN-trigram + λ_cache·P_unigram-cache, λ per (c(u v ·) bucket, history-length bucket), fitted on validation in the generation regime (nodes/model/mixture.ts, regime.ts); sampler chosen on validation prompts (nodes/train/sampler-fit.ts)",
    cacheSize: c.config.cache.size,
    sampler: c.config.sampler,
    samplerGrid: c.sampler.rows.map((r) => ({ ...r.settings, repeatPct: r.stats.repeatPct, distinct2: r.stats.distinct2, samplePpl: +r.samplePpl.toFixed(2), meets: r.meets })),
    samplerRealText: c.sampler.real,
    samplerMetTargets: c.sampler.metTargets,
  };
}

/**
 * The MLP's client side: KN counts (validation-tuned discounts), the regime mixture and the sampler (client-fit.ts), and
 * the shipped distribution's test perplexity in the regime (reported only).
 */
async function fitMlpClientSide(splits: BrownSplits, toModel: (ids: Int32Array) => Int32Array, params: MlpParams, act: Activation,
  onnxBytes: Uint8Array, words: readonly string[], corpusMaxWords: number | undefined, log: Logger) {
  const trainM = toModel(splits.train), validM = toModel(splits.valid), testM = toModel(splits.test);
  const V = params.shape.vocab;
  const kn0 = KneserNeyTrigram.fromTrain(trainM, V);
  const kn = kn0.withDiscounts(tuneDiscounts(kn0, validM).discounts);
  const eng = await MlpEngine.create(params, "poly", false);
  const ort = await OnnxLm.create(onnxBytes, params);
  try {
    const fromValid = generationHistoryStarts(validM.length);
    const client = await fitClientSide({
      kn, train: trainM, valid: validM, words, unk: 0,
      regimeProbs: (from) => regimeProbs(eng, params, act, validM, from),
      modelDistribution: (ctx) => ort.distribution(ctx),
      ...(corpusMaxWords !== undefined ? { corpusMaxWords } : {}),
    });
    const fromTest = generationHistoryStarts(testM.length);
    const pTest = await regimeProbs(eng, params, act, testM, fromTest);
    const m = new LmMixture(kn, client.config);
    const testRegime = regimePerplexity(fromTest, (i, f) => Math.log(m.prob(testM[i]!, pTest[i]!, testM.subarray(f, i)))).ppl;
    log.info({ valid: client.fit.valid, sampler: client.config.sampler, samplerMet: client.sampler.metTargets, testRegime, seconds: client.seconds }, "client side fitted");
    return { client, kn, trainM, validM, fromValid, testRegime };
  } finally {
    await eng.release();
    await ort.release();
  }
}

/** The committed model's client side refitted alone (weights untouched): `npm run train -- --refit-client`. */
async function refitClient(dir: string, maxWords: number | undefined, log: Logger): Promise<void> {
  const t0 = performance.now();
  const manifestPath = join(dir, "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown> & { files: Record<string, string>; validation: Record<string, unknown>; test: Record<string, unknown> };
  const splits = loadBrownSplits(maxWords !== undefined ? { maxWords } : {});
  const V = splits.vocab.words.length;
  const clientModel = loadClientModel(join(dir, `${MODEL_NAME}.client.json`));
  const { model: miner, bytes } = loadMinerModel(join(dir, `${MODEL_NAME}.onnx`), V);
  const { params, act } = mlpFromArtifacts(miner, clientModel);
  const toModel = (ids: Int32Array) => ids.map((id) => clientModel.vocab.idOf(splits.vocab.words[id]!));
  const side = await fitMlpClientSide(splits, toModel, params, act, bytes, clientModel.vocab.words, maxWords, log);
  const mixtureJson = new TextEncoder().encode(JSON.stringify(side.client.config, null, 2) + "\n");
  writeFileSync(join(dir, `${MODEL_NAME}.mixture.json`), mixtureJson);
  manifest.files[`${MODEL_NAME}.mixture.json`] = sha256Hex(mixtureJson);
  (manifest.sizes as Record<string, number>).mixtureJson = mixtureJson.byteLength;
  manifest.mixture = mixtureRecord(side.client);
  manifest.validation.mixture = { shipped: side.client.fit.valid, seconds: Math.round(side.client.seconds) };
  delete manifest.test.shippedWithMixture;
  manifest.test.shippedWithMixtureRegime = side.testRegime;
  manifest.clientRefit = { seconds: Math.round((performance.now() - t0) / 1000), argv: process.argv.slice(2), note: "mixture and sampler refitted on the committed weights (--refit-client); the weights and the rest of the manifest are from the run above" };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  console.log(JSON.stringify({ valid: side.client.fit.valid, sampler: side.client.config.sampler, grid: manifest.mixture, testRegime: side.testRegime }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

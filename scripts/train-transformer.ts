// `npm run train -- --model transformer`: trains the Brown transformer LM end to end (nodes/train/transformer-pipeline.ts)
// and writes models/brown-tx.{onnx,client.json,client.bin,mixture.json,float.json,float.bin} and models/brown-tx.manifest.json.
import cliProgress from "cli-progress";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import type { Logger } from "../nodes/core/log.ts";
import { sha256Hex } from "../nodes/core/sha256.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { KneserNeyTrigram, tuneDiscounts } from "../nodes/model/kn.ts";
import { paddedVocab } from "../nodes/model/miner-model.ts";
import { LmMixture } from "../nodes/model/mixture.ts";
import { GENERATION_REGIME, generationHistoryStarts, regimePerplexity } from "../nodes/model/regime.ts";
import { parseTransformerClient } from "../nodes/model/transformer-client.ts";
import { fitClientSide } from "../nodes/train/client-fit.ts";
import { loadTransformerCheckpoint, saveTransformerCheckpoint } from "../nodes/train/transformer-checkpoint.ts";
import { TransformerEngine } from "../nodes/train/transformer-engine.ts";
import { exportTransformerOnnx, writeTransformerClient } from "../nodes/train/transformer-export.ts";
import { DEFAULT_TRANSFORMER_CONFIG, runTransformerPipeline, type TransformerPipelineConfig } from "../nodes/train/transformer-pipeline.ts";
import { pplOf, regimeLogProbs, regimeSegments } from "../nodes/train/transformer-trainer.ts";
import type { TransformerParams } from "../nodes/train/transformer.ts";
import { TxOnnxLm } from "../nodes/model/tx-onnx.ts";

export const TX_MODEL_NAME = "brown-tx";

export interface TransformerTrainOptions {
  out: string;
  checkpoints: string;
  maxWords?: number;
  config: TransformerPipelineConfig;
  argv: string[];
  /** Skip float training: this float checkpoint (e.g. models/checkpoints/tx-float) from an earlier run. */
  resumeFloat?: string;
}

export async function trainTransformerModel(o: TransformerTrainOptions, log: Logger): Promise<void> {
  const t0 = performance.now();
  const loads: number[] = [];
  const sampler = setInterval(() => loads.push(+loadavg()[0]!.toFixed(2)), 60_000);
  const splits = loadBrownSplits(o.maxWords !== undefined ? { maxWords: o.maxWords } : {});
  log.info({ vocab: splits.vocab.words.length, train: splits.train.length, cfg: o.config }, "transformer: data loaded");
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
  const res = await runTransformerPipeline(splits, o.config, log, progress, (name, p) => saveTransformerCheckpoint(join(o.checkpoints, name), p),
    o.resumeFloat !== undefined ? loadTransformerCheckpoint(o.resumeFloat) : undefined);
  bars.stop();
  const pipelineSeconds = (performance.now() - t0) / 1000;

  // Test split, generation regime, every stage (reported only: no choice above read it).
  const segs = regimeSegments(generationHistoryStarts(splits.test.length));
  const testPpl = async (p: TransformerParams) => {
    const eng = await TransformerEngine.create(p.shape, p.form, { batch: o.config.evalBatch, seq: p.shape.window, train: false });
    try { return pplOf(await regimeLogProbs(eng, p, splits.test, segs)); } finally { await eng.release(); }
  };
  const test = {
    float: await testPpl(res.float.params), naive: await testPpl(res.naive.params), fhe: await testPpl(res.fhe.params),
    quantized: await testPpl(res.quantized.params),
    curve: [] as { rate: number; ppl: number }[],
  };
  for (const m of res.curve) test.curve.push({ rate: m.rate, ppl: await testPpl(m.params) });
  log.info({ test }, "test perplexities (generation regime)");

  // Export, then the client side (regime mixture + sampler) from the exported files' own plaintext twin.
  const shipped = res.shipped.params;
  const vPad = paddedVocab(shipped.shape.vocab);
  const onnxBytes = exportTransformerOnnx(shipped, vPad);
  mkdirSync(o.out, { recursive: true });
  const name = TX_MODEL_NAME;
  writeFileSync(join(o.out, `${name}.onnx`), onnxBytes);
  const client = writeTransformerClient(join(o.out, `${name}.client.json`), splits.vocab.words, shipped, vPad, false);
  const floatFiles = saveTransformerCheckpoint(join(o.out, `${name}.float`), res.float.params);
  const tClient = performance.now();
  const kn0 = KneserNeyTrigram.fromTrain(splits.train, splits.vocab.words.length);
  const kn = kn0.withDiscounts(tuneDiscounts(kn0, splits.valid).discounts);
  const txClient = parseTransformerClient(client.json, client.bin);
  const lm = await TxOnnxLm.create(onnxBytes, txClient);
  const eng = await TransformerEngine.create(shipped.shape, "fhe", { batch: o.config.evalBatch, seq: shipped.shape.window, train: false });
  let side;
  let testRegime: number;
  try {
    side = await fitClientSide({
      kn, train: splits.train, valid: splits.valid, words: splits.vocab.words, unk: 0,
      regimeProbs: async (from) => (await regimeLogProbs(eng, shipped, splits.valid, regimeSegments(from))).map((v) => (Number.isNaN(v) ? 0 : Math.exp(v))),
      modelDistribution: (ctx) => lm.distribution(ctx),
      ...(o.maxWords !== undefined ? { corpusMaxWords: o.maxWords } : {}),
    });
    const fromTest = generationHistoryStarts(splits.test.length);
    const pTest = await regimeLogProbs(eng, shipped, splits.test, regimeSegments(fromTest));
    const m = new LmMixture(kn, side.config);
    testRegime = regimePerplexity(fromTest, (i, f) => Math.log(m.prob(splits.test[i]!, Math.exp(pTest[i]!), splits.test.subarray(f, i)))).ppl;
  } finally {
    await eng.release();
    await lm.release();
  }
  const mixtureJson = new TextEncoder().encode(JSON.stringify(side.config, null, 2) + "\n");
  writeFileSync(join(o.out, `${name}.mixture.json`), mixtureJson);
  // The round plan the Brain pins (its id is the fheParamsHash), chosen with bench:fhe-tx among plans of 2–4 rounds.
  const planJson = new TextEncoder().encode(JSON.stringify({ format: "cerberus-round-plan/1", options: { params: "n8192-l3s", cuts: ["h"] },
    why: "3 rounds a word (the scores; the client's softmax → the FFN input; the client's square → the logits), 3 levels at N = 8192: of the measured plans the one within 1 MiB a word (mean) and 1.5 s of one core a word; see docs/FHE.md and bench/results/fhe-tx.json" }, null, 2) + "\n");
  writeFileSync(join(o.out, `${name}.plan.json`), planJson);
  const clientSeconds = (performance.now() - tClient) / 1000;
  clearInterval(sampler);
  const manifest = {
    name,
    kind: "transformer",
    files: {
      [`${name}.onnx`]: sha256Hex(onnxBytes),
      [`${name}.client.json`]: sha256Hex(client.json),
      [`${name}.client.bin`]: sha256Hex(client.bin),
      [`${name}.mixture.json`]: sha256Hex(mixtureJson),
      [`${name}.plan.json`]: sha256Hex(planJson),
      [`${name}.float.json`]: sha256Hex(floatFiles.json),
      [`${name}.float.bin`]: sha256Hex(floatFiles.bin),
    },
    modelHash: sha256Hex(onnxBytes),
    sizes: { onnx: onnxBytes.byteLength, clientJson: client.json.byteLength, clientBin: client.bin.byteLength, mixtureJson: mixtureJson.byteLength, floatBin: floatFiles.bin.byteLength },
    shape: shipped.shape,
    vPad,
    regime: GENERATION_REGIME,
    fheForm: { sigma1: res.naive.sigma1, sigmaF: res.naive.sigmaF, range: res.range, naiveFit: res.naive.c, coefficients: Array.from(shipped.t.c!) },
    squeezeRate: res.shipped.rate,
    zeroDiagonals: res.curve.find((m) => m.rate === res.shipped.rate)?.zeroDiagonals ?? null,
    quantization: { bits: o.config.quantBits, what: "every miner-side tensor (A, Wov, bo, W1, b1, W2, b2, U, bU) rounded to multiples of 2^-bits; the exported products Wov·W1 and bo·W1 + b1 are computed from the rounded factors" },
    trainSeconds: Math.round(pipelineSeconds),
    clientSeconds: Math.round(clientSeconds),
    wallSeconds: Math.round((performance.now() - t0) / 1000),
    stageSeconds: res.seconds,
    machine: { cores: cpus().length, loadavg1mSampledEveryMinute: loads },
    argv: o.argv,
    config: o.config,
    validation: {
      floatCurve: res.floatCurve,
      float: res.float.validPpl, naive: res.naive.validPpl, fhe: res.fhe.validPpl, quantized: res.quantized.validPpl,
      curve: res.curve.map((m) => ({ rate: m.rate, ppl: m.validPpl })), target: o.config.target, metTarget: res.metTarget,
      mixture: side.fit.valid,
    },
    test: { ...test, shippedWithMixture: testRegime },
    mixture: {
      file: `${name}.mixture.json`, sampler: side.config.sampler,
      samplerGrid: side.sampler.rows.map((r) => ({ ...r.settings, repeatPct: r.stats.repeatPct, distinct2: r.stats.distinct2, samplePpl: +r.samplePpl.toFixed(2), meets: r.meets })),
      samplerRealText: side.sampler.real, samplerMetTargets: side.sampler.metTargets,
    },
  };
  writeFileSync(join(o.out, `${name}.manifest.json`), JSON.stringify(manifest, null, 2) + "\n");
  console.log(JSON.stringify({ trainSeconds: manifest.trainSeconds, wallSeconds: manifest.wallSeconds, validation: manifest.validation, test: manifest.test, sampler: side.config.sampler }, null, 2));
}

export { DEFAULT_TRANSFORMER_CONFIG };

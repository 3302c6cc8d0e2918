// npm run bench:model -- --transformer: the transformer Brain's perplexities on the test split in the generation
// regime, every row measured from the committed files (models/brown-tx.*), and the encrypted model on real
// ciphertexts on a sample of the same words. Writes bench/results/model-tx.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { createLogger } from "../nodes/core/log.ts";
import { sha256Hex } from "../nodes/core/sha256.ts";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { loadLmMixture } from "../nodes/model/lm.ts";
import { softmax } from "../nodes/model/client-model.ts";
import { GENERATION_REGIME, generationHistoryStarts, regimePerplexity, regimePredicted } from "../nodes/model/regime.ts";
import { parseTransformerClient } from "../nodes/model/transformer-client.ts";
import { TxOnnxLm } from "../nodes/model/tx-onnx.ts";
import { loadRoundPlanOptions } from "../nodes/client/brain-model.ts";
import { KneserNeyTrigram, tuneDiscounts } from "../nodes/model/kn.ts";
import { loadTransformerCheckpoint } from "../nodes/train/transformer-checkpoint.ts";
import { TransformerEngine } from "../nodes/train/transformer-engine.ts";
import { pplOf, regimeLogProbs, regimeSegments } from "../nodes/train/transformer-trainer.ts";
import { toFheForm } from "../nodes/train/transformer.ts";
import { pplOfLogs, runEncrypted } from "./lib/tx-encrypted.ts";

const Manifest = z.object({
  name: z.string(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  fheForm: z.object({ sigma1: z.number(), sigmaF: z.number(), naiveFit: z.tuple([z.number(), z.number(), z.number()]) }),
});

export async function benchTransformer(o: { models: string; out: string; encryptedWords: number }): Promise<void> {
  const log = createLogger("bench-model-tx");
  const manifest = Manifest.parse(JSON.parse(readFileSync(join(o.models, "brown-tx.manifest.json"), "utf8")));
  for (const [file, sha] of Object.entries(manifest.files)) {
    if (sha256Hex(readFileSync(join(o.models, file))) !== sha) throw new Error(`${file}: sha256 differs from the manifest`);
  }
  const file = (suffix: string) => join(o.models, `${manifest.name}${suffix}`);
  const splits = loadBrownSplits();
  const client = parseTransformerClient(readFileSync(file(".client.json")), new Uint8Array(readFileSync(file(".client.bin"))));
  if (client.vocab.size !== splits.vocab.words.length || !splits.vocab.words.every((w, i) => client.vocab.words[i] === w)) {
    throw new Error("the transformer's word list differs from the corpus vocabulary");
  }
  const test = splits.test;
  const from = generationHistoryStarts(test.length);
  const segs = regimeSegments(from);
  const t0 = performance.now();

  log.info("float twin and naive FHE form from the committed float checkpoint");
  const float = loadTransformerCheckpoint(file(".float"));
  const engFloat = await TransformerEngine.create(float.shape, "float", { batch: 32, seq: float.shape.window, train: false });
  const lpFloat = await regimeLogProbs(engFloat, float, test, segs);
  await engFloat.release();
  const naive = toFheForm(float, manifest.fheForm.sigma1, manifest.fheForm.sigmaF, manifest.fheForm.naiveFit);
  const engFhe = await TransformerEngine.create(float.shape, "fhe", { batch: 32, seq: float.shape.window, train: false });
  const lpNaive = await regimeLogProbs(engFhe, naive, test, segs);
  await engFhe.release();

  log.info("the shipped ONNX through onnxruntime, one history at a time (the client's rows, window and softmax)");
  const onnx = new Uint8Array(readFileSync(file(".onnx")));
  const lm = await TxOnnxLm.create(onnx, client, 2);
  const lpOnnx = new Float64Array(test.length).fill(Number.NaN);
  const V = client.vocab.size;
  const ids = Array.from(test);
  let done = 0;
  for (let i = 0; i < test.length; i++) {
    if (from[i]! < 0) continue;
    const { logits } = await lm.run(ids.slice(from[i]!, i));
    lpOnnx[i] = Math.log(softmax(logits, V)[test[i]!]!);
    if (++done % 20_000 === 0) log.info({ done }, "onnx pass");
  }
  await lm.release();

  log.info("client mixture (KN + cache, regime fit) as a client builds it");
  const mixture = loadLmMixture(file(".mixture.json"), client);
  const shipped = regimePerplexity(from, (i, f) => Math.log(mixture.prob(test[i]!, Math.exp(lpOnnx[i]!), test.subarray(f, i)))).ppl;
  const kn0 = KneserNeyTrigram.fromTrain(splits.train, V);
  const kn = kn0.withDiscounts(tuneDiscounts(kn0, splits.valid).discounts);
  const knRegime = regimePerplexity(from, (i, f) => Math.log(kn.prob(test[i]!, test.subarray(Math.max(f, i - 2), i)))).ppl;

  log.info({ words: o.encryptedWords }, "encrypted: the shipped round plan on real ciphertexts, on the first words of the regime");
  const planOptions = loadRoundPlanOptions(file(".plan.json"));
  const enc = await runEncrypted(onnx, client, planOptions, test, segs, o.encryptedWords);
  // The same words' positions: the first `words` predicted positions in segment order.
  const positions: number[] = [];
  outer: for (const s of segs) for (let i = s.first; i < s.end; i++) { positions.push(i); if (positions.length >= enc.words) break outer; }
  const same = (lp: Float64Array) => pplOfLogs(positions.map((i) => lp[i]!));
  const result = {
    regime: GENERATION_REGIME,
    predicted: regimePredicted(from),
    ppl_kn_trigram: knRegime,
    ppl_float: pplOf(lpFloat),
    ppl_naive_fhe_form: pplOf(lpNaive),
    ppl_shipped_onnx: pplOf(lpOnnx),
    ppl_shipped_with_mixture: shipped,
    shipped_over_float: pplOf(lpOnnx) / pplOf(lpFloat),
    encrypted_sample: {
      words: enc.words, plan: enc.plan,
      ppl_encrypted: pplOfLogs(enc.logp),
      ppl_onnx_same_words: same(lpOnnx),
      ppl_float_same_words: same(lpFloat),
      encrypted_over_float: pplOfLogs(enc.logp) / same(lpFloat),
      encrypted_over_onnx: pplOfLogs(enc.logp) / same(lpOnnx),
      max_abs_error_scores: enc.maxScoreError, max_abs_error_logits: enc.maxLogitError,
    },
    seconds: Math.round((performance.now() - t0) / 1000),
    machine: { cores: cpus().length, loadavg_1m_at_end: loadavg()[0] },
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(result, null, 2) + "\n");
  const f = (v: number) => v.toFixed(1).padStart(8);
  console.log(`\nTransformer (${manifest.name}), Brown test, generation regime (${result.predicted} predicted words; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)})`);
  for (const [k, v] of [
    ["KN trigram", f(result.ppl_kn_trigram)],
    ["float transformer, models/brown-tx.float.*", f(result.ppl_float)],
    ["naive FHE form (norms folded, GELU → fitted quadratic, no fine-tune)", f(result.ppl_naive_fhe_form)],
    ["shipped: models/brown-tx.onnx via onnxruntime (fine-tuned, quantized, pruned)", f(result.ppl_shipped_onnx)],
    ["shipped + client mixture (KN + cache, regime fit)", f(result.ppl_shipped_with_mixture)],
  ] as const) console.log(`  ${k.padEnd(80)} ${v}`);
  const e = result.encrypted_sample;
  console.log(`  encrypted (${e.plan.rounds} rounds, ${e.plan.params}) on the first ${e.words} words: ${e.ppl_encrypted.toFixed(2)} vs onnx ${e.ppl_onnx_same_words.toFixed(2)} ` +
    `vs float ${e.ppl_float_same_words.toFixed(2)} (encrypted / float = ${e.encrypted_over_float.toFixed(4)}, target ≤ 1.05)`);
  console.log(`wrote ${o.out}`);
}

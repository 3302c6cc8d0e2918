/**
 * The Kneser-Ney baseline end to end: Brown splits → counts on train → discounts tuned on valid → test perplexity.
 * `npm run bench:kn` prints it; `npm run bench:model` calls evaluateKnBaseline() for the `ppl_kn_trigram` row.
 */
import { loadBrownSplits } from "../model/corpus.ts";
import { KneserNeyTrigram, tuneDiscounts, type KnDiscounts } from "../model/kn.ts";

export interface KnBaselineResult {
  lowercase: boolean;
  vocab: number;
  train_words: number;
  valid_words: number;
  test_words: number;
  /** Test words actually scored (the first FIRST_PREDICTED of the split are context only). */
  test_predicted: number;
  /** Fraction of test tokens that are the unknown symbol. */
  test_unk_rate: number;
  /** Interpolated modified KN, 9 discounts tuned on valid: THE baseline. */
  ppl_kn_trigram: number;
  ppl_kn_trigram_valid: number;
  /** Same counts, Chen & Goodman's closed-form discounts (no tuning). */
  ppl_kn_closed_form: number;
  /** One discount per order, tuned on valid. */
  ppl_kn_single_discount: number;
  discounts: KnDiscounts;
  /** Wall-clock seconds: whole evaluation, and its parts (loading the corpus is the rest). */
  seconds: number;
  count_seconds: number;
  tune_seconds: number;
  test_score_seconds: number;
}

export interface KnBaselineOptions {
  lowercase?: boolean;
  /** Prefix of the corpus (tests); default the whole corpus. */
  maxWords?: number;
  /** Called after each tuning pass of each tuning run (for progress bars). */
  onPass?: (run: "modified" | "single", pass: number, validPpl: number) => void;
}

export function evaluateKnBaseline(options: KnBaselineOptions = {}): KnBaselineResult {
  const t0 = performance.now();
  const lowercase = options.lowercase ?? false;
  const { vocab, train, valid, test } = loadBrownSplits({
    lowercase,
    ...(options.maxWords === undefined ? {} : { maxWords: options.maxWords }),
  });
  const V = vocab.words.length;
  const t1 = performance.now();
  const closedForm = KneserNeyTrigram.fromTrain(train, V);
  const t2 = performance.now();
  const tuned = tuneDiscounts(closedForm, valid, {
    mode: "modified",
    onPass: (p, ppl) => options.onPass?.("modified", p, ppl),
  });
  const single = tuneDiscounts(closedForm, valid, {
    mode: "single",
    onPass: (p, ppl) => options.onPass?.("single", p, ppl),
  });
  const t3 = performance.now();
  const model = closedForm.withDiscounts(tuned.discounts);
  const testResult = model.perplexity(test);
  const t4 = performance.now();
  let unk = 0;
  for (const id of test) if (id === vocab.unkId) unk++;
  return {
    lowercase,
    vocab: V,
    train_words: train.length,
    valid_words: valid.length,
    test_words: test.length,
    test_predicted: testResult.predicted,
    test_unk_rate: unk / test.length,
    ppl_kn_trigram: testResult.ppl,
    ppl_kn_trigram_valid: tuned.validPpl,
    ppl_kn_closed_form: closedForm.perplexity(test).ppl,
    ppl_kn_single_discount: closedForm.withDiscounts(single.discounts).perplexity(test).ppl,
    discounts: tuned.discounts,
    seconds: (performance.now() - t0) / 1000,
    count_seconds: (t2 - t1) / 1000,
    tune_seconds: (t3 - t2) / 1000,
    test_score_seconds: (t4 - t3) / 1000,
  };
}

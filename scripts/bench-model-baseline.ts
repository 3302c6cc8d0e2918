/**
 * npm run bench:kn — the interpolated Kneser-Ney trigram baseline on the Brown corpus (Bengio et al. 2003 split),
 * printed as a table beside the paper's row and written to bench/results/kn.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command } from "commander";
import { SingleBar, Presets } from "cli-progress";
import { createLogger } from "../nodes/core/log.ts";
import { evaluateKnBaseline, type KnBaselineResult } from "../nodes/train/kn-baseline.ts";

const PAPER_KN_BACKOFF_TRIGRAM = 323; // Bengio et al. 2003, Table 1 (Brown), Kneser-Ney back-off trigram, test

const program = new Command()
  .name("bench-model-baseline")
  .description("Kneser-Ney trigram baseline on the Brown corpus: vocabulary, split sizes, test perplexity")
  .option("--out <file>", "JSON results file", "bench/results/kn.json")
  .option("--no-lowercase-variant", "skip the lower-cased comparison run")
  .parse();
const opts = program.opts<{ out: string; lowercaseVariant: boolean }>();
const log = createLogger("bench-kn");

function run(lowercase: boolean): KnBaselineResult {
  const passes = 2 * 2; // modified + single tuning runs, 2 passes each (tuneDiscounts' default)
  const bar = new SingleBar({ format: `KN ${lowercase ? "lower-cased " : "case kept   "} {bar} {value}/{total} tuning passes | valid ppl {ppl}` }, Presets.shades_classic);
  bar.start(passes, 0, { ppl: "-" });
  const r = evaluateKnBaseline({ lowercase, onPass: (_run, _p, ppl) => bar.increment({ ppl: ppl.toFixed(2) }) });
  bar.stop();
  log.info({ lowercase, seconds: r.seconds, ppl: r.ppl_kn_trigram }, "KN baseline evaluated");
  return r;
}

const main = run(false);
const lower = opts.lowercaseVariant ? run(true) : undefined;

const f = (x: number): string => x.toFixed(1);
const rows: [string, string, string, string][] = [
  ["Bengio et al. 2003: KN back-off trigram (V = 16,383, their tokenisation)", "—", String(PAPER_KN_BACKOFF_TRIGRAM), "paper"],
  ["interpolated modified KN trigram, discounts tuned on valid (case kept) ← baseline", f(main.ppl_kn_trigram_valid), f(main.ppl_kn_trigram), "ours"],
  ["  same counts, closed-form discounts (no tuning)", "—", f(main.ppl_kn_closed_form), "ours"],
  ["  one discount per order, tuned on valid", "—", f(main.ppl_kn_single_discount), "ours"],
];
if (lower) rows.push(["interpolated modified KN trigram, lower-cased corpus", f(lower.ppl_kn_trigram_valid), f(lower.ppl_kn_trigram), "ours"]);

console.log(`\nBrown corpus: ${main.train_words} train / ${main.valid_words} valid / ${main.test_words} test words ` +
  `(${main.test_predicted} predicted); vocabulary ${main.vocab} incl. <unk>` +
  (lower ? ` (lower-cased: ${lower.vocab})` : "") + `; test <unk> rate ${(100 * main.test_unk_rate).toFixed(1)}%`);
console.log("(measured on a shared, loaded 2-core machine)\n");
const w0 = Math.max(...rows.map((r) => r[0].length));
console.log(`${"model".padEnd(w0)} | valid ppl | test ppl | source`);
console.log(`${"-".repeat(w0)}-|-----------|----------|-------`);
for (const [name, v, t, s] of rows) console.log(`${name.padEnd(w0)} | ${v.padStart(9)} | ${t.padStart(8)} | ${s}`);
console.log(`\ndiscounts (D1, D2, D3+): ${JSON.stringify(main.discounts)}`);
console.log(`time: ${main.seconds.toFixed(1)} s in all: counting train ${main.count_seconds.toFixed(2)} s, tuning ` +
  `(modified + single) ${main.tune_seconds.toFixed(2)} s, scoring ${main.test_predicted} test words ` +
  `${main.test_score_seconds.toFixed(2)} s${lower ? `; lower-cased run ${lower.seconds.toFixed(1)} s` : ""}`);

const out = resolve(opts.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({
  ...main,
  paper_kn_backoff_trigram: PAPER_KN_BACKOFF_TRIGRAM,
  ...(lower ? { lowercased: lower } : {}),
  measured_at: new Date().toISOString(),
  machine: "shared, loaded 2-core machine",
}, null, 2) + "\n");
console.log(`wrote ${opts.out}`);

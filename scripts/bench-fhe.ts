// npm run bench:fhe — CKKS inference of the Brown-LM-shaped MLP (128 → 128 → poly2 → 16,384): latency, bytes, keys,
// compared with the naive diagonal method, squeeze rates and onnxruntime. Writes bench/results/fhe.json.
import { cpus, loadavg } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { LM_DIMS, lmModel, measure, ortMedian, round, type FheRow } from "./bench-fhe-lib.ts";

const program = new Command()
  .name("bench-fhe")
  .description("Benchmark the FHE engine on the Brown LM shape (random weights, plus the committed model). Run on an idle machine if you can.")
  .option("--evals <n>", "encrypted evaluations for the main plan", "9")
  .option("--naive-evals <n>", "evaluations for the naive comparison (slow)", "3")
  .option("--squeeze-evals <n>", "evaluations per squeeze rate", "5")
  .option("--skip-naive", "skip the naive (no BSGS, power-of-two keys) comparison")
  .option("--out <file>", "JSON output", "bench/results/fhe.json")
  .parse();
const opts = program.opts<{ evals: string; naiveEvals: string; squeezeEvals: string; skipNaive?: boolean; out: string }>();

async function main(): Promise<void> {
  process.env.CERBERUS_LOG_LEVEL ??= "warn";
  const started = new Date().toISOString();
  const { bytes } = lmModel(1);
  const ortMs = await ortMedian(bytes, LM_DIMS[0], 50);
  const main = await measure(bytes, LM_DIMS, { rotationKeys: "min" }, Number(opts.evals), "BSGS, keys {1,16}", ortMs);
  const full = await measure(bytes, LM_DIMS, { rotationKeys: "full" }, Number(opts.evals), "BSGS, keys for all 22 steps", ortMs);
  const naive = opts.skipNaive ? undefined
    : await measure(bytes, LM_DIMS, { rotationKeys: "naive" }, Number(opts.naiveEvals), "naive, power-of-two keys", ortMs);
  const squeeze: { rate: number; eval_ms: number; eval_cpu_ms: number; pt_mults: number; rotations: number }[] = [];
  for (const rate of [0, 0.25, 0.5, 0.75]) {
    const m = lmModel(1, rate);
    const r = await measure(m.bytes, LM_DIMS, { rotationKeys: "min" }, Number(opts.squeezeEvals), `squeeze r=${rate}`, ortMs);
    squeeze.push({ rate, eval_ms: r.row.eval_ms_median, eval_cpu_ms: r.extra.eval_cpu_ms_median, pt_mults: r.row.pt_mults,
      rotations: r.row.rotations });
  }
  // The committed model itself (real, possibly pruned weights): what `npm start` serves.
  const manifest = JSON.parse(readFileSync("models/manifest.json", "utf8")) as { squeezeRate: number };
  const shipped = await measure(readFileSync("models/brown-lm.onnx"), LM_DIMS, { rotationKeys: "min" }, Number(opts.squeezeEvals),
    `shipped models/brown-lm.onnx (r=${manifest.squeezeRate})`, ortMs);
  const result = {
    ...main.row,
    shipped_model: { squeeze_rate: manifest.squeezeRate, ...shipped.row, eval_cpu_ms: shipped.extra.eval_cpu_ms_median },
    naive: naive?.row ?? null,
    squeeze_ms: squeeze,
    fhe_plaintext_ratio: round(main.row.eval_ms_median / ortMs, 0),
    fhe_plaintext_ratio_cpu: round(main.extra.eval_cpu_ms_median / ortMs, 0),
    rotation_keys_full: full.row,
    details: { min: main.extra, full: full.extra, naive: naive?.extra ?? null },
    shape: LM_DIMS,
    machine: `${cpus().length}-core VM, load average ${loadavg().map((l) => l.toFixed(2)).join(" / ")} (1/5/15 min) at the end; medians, one thread per evaluation`,
    started,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(result, null, 2) + "\n");
  printTable([["BSGS keys {1,16} (default)", main.row], ["BSGS keys all 22 steps", full.row],
    [`shipped model (r = ${manifest.squeezeRate})`, shipped.row],
    ...(naive ? [["naive, pow-2 keys", naive.row] as [string, FheRow]] : [])]);
  console.log("\nsqueeze rate → eval ms (pt mults, rotations): " +
    squeeze.map((s) => `${s.rate}: ${s.eval_ms} [cpu ${s.eval_cpu_ms}] (${s.pt_mults}, ${s.rotations})`).join(" | "));
  console.log(`eval CPU ms (median; ≈ wall time on an idle core): min ${main.extra.eval_cpu_ms_median}, full ` +
    `${full.extra.eval_cpu_ms_median}${naive ? `, naive ${naive.extra.eval_cpu_ms_median}` : ""}`);
  console.log(`onnxruntime plaintext: ${round(ortMs, 3)} ms; FHE/plaintext = ${result.fhe_plaintext_ratio}×; ` +
    `seeded upload ${main.row.upload_bytes_per_step} B vs unseeded ${main.extra.upload_bytes_unseeded} B; ` +
    `plaintext weight cache ${round(main.extra.plaintext_cache_bytes / 2 ** 20)} MiB; max rel error ${main.extra.max_rel_error.toExponential(2)}`);
  console.log(`wrote ${opts.out}`);
}

function printTable(rows: [string, FheRow][]): void {
  const kib = (b: number) => `${round(b / 1024, 0)} KiB`;
  const mib = (b: number) => `${round(b / 2 ** 20, 1)} MiB`;
  const data = rows.map(([name, r]) => ({
    plan: name, params: r.params, rot: r.rotations, "pt×": r.pt_mults, lvl: r.levels, "keygen ms": r.keygen_ms,
    "enc ms": r.encrypt_ms, "eval ms (med)": r.eval_ms_median, "dec ms": r.decrypt_ms,
    up: kib(r.upload_bytes_per_step), down: kib(r.download_bytes_per_step), keys: mib(r.key_bytes),
  }));
  console.table(data);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// npm run bench:fhe-memory — 1,000 encrypted evaluations on one MinerEvaluator (a new session with fresh keys every
// 100 evaluations, as a miner serving many users would see) and the process RSS along the way. The target:
// RSS after 1,000 within 10% of RSS after 100. Writes bench/results/fhe-memory.json. Takes long on the LM shape:
// run it in the background with nice.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { Command } from "commander";
import { FheClient, MinerEvaluator } from "../nodes/fhe/index.ts";
import { randomMlp } from "../nodes/fhe/random-model.ts";
import { bar, input, LM_DIMS, round } from "./bench-fhe-lib.ts";

const program = new Command()
  .name("bench-fhe-memory")
  .description("RSS flatness over many encrypted evaluations (miner side, with client work in the same process)")
  .option("--evals <n>", "total evaluations", "1000")
  .option("--session-every <n>", "open a new session (new keys) every n evaluations", "100")
  .option("--dims <list>", "MLP widths", LM_DIMS.join(","))
  .option("--out <file>", "JSON output", "bench/results/fhe-memory.json")
  .parse();
const opts = program.opts<{ evals: string; sessionEvery: string; dims: string; out: string }>();

async function main(): Promise<void> {
  process.env.CERBERUS_LOG_LEVEL ??= "warn";
  const dims = opts.dims.split(",").map(Number);
  const total = Number(opts.evals);
  const every = Number(opts.sessionEvery);
  const { bytes } = randomMlp({ dims, seed: 3 });
  const ev = await MinerEvaluator.create(bytes);
  const client = await FheClient.create(ev.descriptor);
  const samples: { evals: number; rss_mib: number; heap_mib: number }[] = [];
  // With --expose-gc (the npm script passes it) JS garbage is collected before each sample, so the curve shows
  // what the miner keeps (WASM heap, caches), not when V8 last ran a GC.
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = (n: number) => {
    gc?.();
    const m = process.memoryUsage();
    samples.push({ evals: n, rss_mib: round(m.rss / 2 ** 20), heap_mib: round(m.heapUsed / 2 ** 20) });
  };
  sample(0);
  const keysPerSession = client.keygen();
  const b = bar("encrypted evaluations", total);
  let session = await ev.openSession(keysPerSession);
  const t0 = performance.now();
  for (let k = 1; k <= total; k++) {
    if (k > 1 && (k - 1) % every === 0) {
      session.close();
      session = await ev.openSession(client.keygen());
    }
    const y = client.decryptOutput(await session.evaluate(client.encryptInput(input(dims[0], k))));
    if (!Number.isFinite(y[0])) throw new Error("non-finite output");
    if (k % 50 === 0 || k === total) {
      sample(k);
      // Partial results survive an interrupted run (it takes long on the LM shape).
      writeResult({ shape: dims, evals_done: k, evals: total, complete: false, samples });
      b.update(k, { status: `RSS ${samples[samples.length - 1].rss_mib} MiB` });
    } else b.update(k);
  }
  b.stop();
  session.close();
  const at = (n: number) => samples.find((s) => s.evals === n)?.rss_mib ?? NaN;
  const after100 = at(Math.min(100, total));
  const afterAll = at(total);
  const result = {
    shape: dims, evals: total, session_every: every, rss_mib_after_100: after100, rss_mib_after_all: afterAll,
    growth_pct: round(((afterAll - after100) / after100) * 100, 2), target_pct: 10,
    plaintext_cache_mib: round(ev.memory.plaintextBytes / 2 ** 20), minutes: round((performance.now() - t0) / 60000, 1),
    gc_before_samples: gc !== undefined, samples, machine: { cores: cpus().length, loadavg_at_end: loadavg().map((x) => round(x, 2)) }, finished: new Date().toISOString(),
  };
  ev.dispose();
  client.dispose();
  writeResult({ ...result, complete: true });
  console.log(`RSS after 100: ${after100} MiB, after ${total}: ${afterAll} MiB, growth ${result.growth_pct}% ` +
    `(target ≤ 10%). Wrote ${opts.out}`);
}

function writeResult(r: object): void {
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(r, null, 2) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

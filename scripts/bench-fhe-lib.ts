// Shared measurement helpers for the FHE benchmarks (scripts/bench-fhe.ts, scripts/bench-fhe-memory.ts).
import cliProgress from "cli-progress";
import * as ort from "onnxruntime-node";
import { FheClient, MinerEvaluator, type PlanOptions } from "../nodes/fhe/index.ts";
import { randomMlp, mulberry32 } from "../nodes/fhe/random-model.ts";

export const LM_DIMS = [128, 128, 16384];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

export function input(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

export function bar(label: string, total: number): cliProgress.SingleBar {
  const b = new cliProgress.SingleBar({
    format: `${label.padEnd(28)} [{bar}] {value}/{total} {status}`, hideCursor: true, stream: process.stderr,
    noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10_000,
  }, cliProgress.Presets.shades_classic);
  b.start(total, 0, { status: "" });
  return b;
}

export interface FheRow {
  params: string; rotations: number; pt_mults: number; levels: number; keygen_ms: number; encrypt_ms: number;
  eval_ms_median: number; decrypt_ms: number; upload_bytes_per_step: number; download_bytes_per_step: number;
  key_bytes: number; plaintext_ms_onnxruntime: number;
}
export interface FheExtra {
  key_switches: number; galois_steps: number; compile_encode_ms: number; plaintext_cache_bytes: number;
  eval_ms_all: number[]; eval_cpu_ms_median: number; upload_bytes_unseeded: number; max_rel_error: number;
}

/** Median of ort runs of the same bytes (one intra-op thread: a fair single-core comparison). */
export async function ortMedian(bytes: Uint8Array, dim: number, runs: number): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const times: number[] = [];
  for (let k = 0; k < runs + 3; k++) {
    const x = new ort.Tensor("float32", input(dim, k), [1, dim]);
    const t = performance.now();
    await s.run({ [s.inputNames[0]]: x });
    if (k >= 3) times.push(performance.now() - t);
  }
  await s.release();
  return median(times);
}

/** Full client ↔ miner cycle for one model and plan: keygen, encrypt, evaluate (evals times), decrypt. */
export async function measure(bytes: Uint8Array, dims: number[], plan: PlanOptions, evals: number, label: string,
  ortMs: number): Promise<{ row: FheRow; extra: FheExtra }> {
  const b = bar(label, evals + 2);
  b.update(0, { status: "compile + encode weights" });
  let t = performance.now();
  const ev = await MinerEvaluator.create(bytes, plan);
  const compileMs = performance.now() - t;
  const client = await FheClient.create(JSON.parse(JSON.stringify(ev.descriptor)));
  b.update(1, { status: "keygen" });
  t = performance.now();
  const keys = client.keygen();
  const keygenMs = performance.now() - t;
  const session = await ev.openSession(keys);
  b.update(2, { status: "evaluate" });
  const enc: number[] = [];
  const evl: number[] = [];
  const dec: number[] = [];
  const cpu: number[] = [];
  let up = 0;
  let down = 0;
  let maxRel = 0;
  const ref = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  for (let k = 0; k < evals; k++) {
    const x = input(dims[0], 900 + k);
    t = performance.now();
    const cts = client.encryptInput(x);
    enc.push(performance.now() - t);
    up = cts.reduce((a, c) => a + c.length, 0);
    t = performance.now();
    const c0 = process.cpuUsage();
    const out = await session.evaluate(cts);
    evl.push(performance.now() - t);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    down = out.reduce((a, c) => a + c.length, 0);
    t = performance.now();
    const y = client.decryptOutput(out);
    dec.push(performance.now() - t);
    if (k === 0) {
      const r = (await ref.run({ [ref.inputNames[0]]: new ort.Tensor("float32", x, [1, dims[0]]) }))[ref.outputNames[0]]
        .data as Float32Array;
      let lo = Infinity, hi = -Infinity, err = 0;
      for (let i = 0; i < r.length; i++) { lo = Math.min(lo, r[i]); hi = Math.max(hi, r[i]); err = Math.max(err, Math.abs(r[i] - y[i])); }
      maxRel = err / (hi - lo);
    }
    b.update(k + 3, { status: `eval ${round(evl[evl.length - 1], 0)} ms` });
  }
  const unseeded = client.encryptInput(input(dims[0], 1), { seeded: false })[0].length;
  b.stop();
  await ref.release();
  const d = ev.descriptor;
  const evalMedian = median(evl);
  const row: FheRow = {
    params: d.params, rotations: d.summary.rotations, pt_mults: d.summary.ptMults, levels: d.summary.levels,
    keygen_ms: round(keygenMs), encrypt_ms: round(median(enc)), eval_ms_median: round(evalMedian),
    decrypt_ms: round(median(dec)), upload_bytes_per_step: up, download_bytes_per_step: down, key_bytes: keys.keyBytes,
    plaintext_ms_onnxruntime: round(ortMs, 3),
  };
  const extra: FheExtra = {
    key_switches: d.summary.keySwitches, galois_steps: d.galoisPow2 ? -1 : d.galoisSteps.length,
    compile_encode_ms: round(compileMs), plaintext_cache_bytes: ev.memory.plaintextBytes,
    eval_ms_all: evl.map((x) => round(x)), eval_cpu_ms_median: round(median(cpu)), upload_bytes_unseeded: unseeded, max_rel_error: maxRel,
  };
  session.close();
  ev.dispose();
  client.dispose();
  return { row, extra };
}

export function lmModel(seed: number, pruneRate = 0): { bytes: Uint8Array } {
  return randomMlp({ dims: LM_DIMS, seed, pruneRate, zeroRowsFrom: 16000 });
}

/**
 * The load benchmark (`npm run bench:load`): miners in their own processes (FHE worker threads, real libp2p on
 * 127.0.0.1, real node-seal, the miner's default queue and BUSY rules; only per-address caps lifted, since every
 * user here shares 127.0.0.1), and waves of concurrent users, each a real `generate` session of the committed model
 * from a fresh libp2p identity in its own thread, choosing miners by health as every user does. Per concurrency level: aggregate
 * words/s, per-word latency quantiles, errors by kind, bytes, BUSY waits and failovers, miners' peak RSS.
 */
import "../../nodes/core/polyfills.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadBrainModel } from "../../nodes/client/brain-model.ts";
import { Worker } from "node:worker_threads";
import type { MinerAddress } from "../../nodes/client/transport.ts";
import { loadBrownSplits } from "../../nodes/model/corpus.ts";
import { createRng } from "../../nodes/core/prng.ts";
import { quantile } from "../../nodes/core/stats.ts";
import { samplePrompt } from "../../nodes/validator/challenge.ts";
import { oneSession, type SessionOutcome, type UserSession } from "./session.ts";

export interface LoadBenchOptions {
  levels: number[];
  words: number;
  miners: number;
  threads: number;
  /** Split a lone step over two idle workers (the miner default). */
  split: boolean;
  /** Lift the per-address caps to the miner's totals (every user here is 127.0.0.1; nodes/miner/one-host.ts). */
  oneHost: boolean;
  modelDir: string;
  modelName: string;
  seed: number;
  /** Delay between consecutive users' starts within a level. */
  staggerMs: number;
  log?: (line: string) => void;
}

export interface LevelResult {
  users: number;
  words: number;
  seconds: number;
  words_per_s: number;
  ms_per_word: { p50: number; p95: number; p99: number; max: number; mean: number };
  /** The same over words after each session's first (which also carries the key upload). */
  ms_per_word_after_first: { p50: number; p95: number };
  first_word_ms_p50: number;
  errors: number;
  error_kinds: Record<string, number>;
  busy_waits: number;
  busy_wait_ms: number;
  failovers: number;
  sessions_per_miner: number[];
  bytes_up_per_word: number;
  bytes_down_per_word: number;
  key_upload_bytes_per_session: number;
  bytes_up_total: number;
  bytes_down_total: number;
  miner_rss_peak_mib: number[];
  /** The most sessions a chosen miner stated in its health at the moment a user chose it. */
  chosen_miner_stated_sessions_max: number;
  split_steps: number;
  whole_steps: number;
  /** Mean wall time of a split / whole step inside the miners' worker pools (null: none ran): the per-word time
   * minus this is the client's work, the wire and the queue. */
  miner_split_step_ms_mean: number | null;
  miner_whole_step_ms_mean: number | null;
  loadavg_before: number[];
  loadavg_after: number[];
}

interface MinerProc {
  address: MinerAddress;
  child: ChildProcess;
  rssPeak: number;
  stats: { splitSteps: number; wholeSteps: number; splitStepMs: number; wholeStepMs: number };
  exited: Promise<void>;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function spawnMiner(o: LoadBenchOptions): Promise<MinerProc> {
  const script = fileURLToPath(new URL("../probes/miner-proc.ts", import.meta.url));
  // detached: its own process group, so a test runner or Ctrl-C can kill it with its tsx children
  const child = spawn(process.execPath, ["--import", "tsx", script, o.modelDir, o.modelName, String(o.threads), o.oneHost ? "load" : "load-strict",
    o.split ? "split" : "whole"], { stdio: ["pipe", "pipe", "inherit"], detached: true,
    env: { ...process.env, CERBERUS_LOG_LEVEL: "warn" } });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const proc = await new Promise<MinerProc>((resolve, reject) => {
    let p: MinerProc | undefined;
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      const m = JSON.parse(line) as { peerId?: string; multiaddrs?: string[]; rss?: number; stats?: MinerProc["stats"] | null };
      if (p === undefined && m.peerId !== undefined) {
        p = { address: { peerId: m.peerId, multiaddrs: m.multiaddrs! }, child, rssPeak: 0,
          stats: { splitSteps: 0, wholeSteps: 0, splitStepMs: 0, wholeStepMs: 0 }, exited };
        resolve(p);
      } else if (p !== undefined && m.rss !== undefined) {
        p.rssPeak = Math.max(p.rssPeak, m.rss);
        if (m.stats) p.stats = { ...p.stats, ...m.stats };
      }
    });
    child.once("exit", (code) => { if (p === undefined) reject(new Error(`miner process exited (${code}) before it served`)); });
  });
  return proc;
}

async function stopMiner(m: MinerProc): Promise<void> {
  m.child.stdin!.end();
  const killed = setTimeout(() => { try { process.kill(-m.child.pid!, "SIGKILL"); } catch { /* gone */ } }, 10_000);
  await m.exited;
  clearTimeout(killed);
}

export async function runLoadBench(o: LoadBenchOptions, loadavg: () => number[]): Promise<LevelResult[]> {
  const log = o.log ?? (() => {});
  const model = loadBrainModel({ dir: o.modelDir, name: o.modelName });
  const { vocab, valid } = loadBrownSplits();
  const text = Array.from(valid.subarray(0, 50_000), (id) => vocab.words[id]!);
  log(`starting ${o.miners} miners × ${o.threads} FHE worker threads …`);
  const miners: MinerProc[] = [];
  try {
    for (let k = 0; k < o.miners; k++) miners.push(await spawnMiner(o));
    const addresses = miners.map((m) => m.address);
    // Warm-up: one short session per miner (JIT, first connections), not measured.
    for (const a of addresses) await oneSession(model, [a], "the jury said", 2, o.seed, () => 0.5);
    const results: LevelResult[] = [];
    for (const users of o.levels) {
      for (const m of miners) m.rssPeak = 0;
      const before = miners.map((m) => ({ ...m.stats }));
      const rng = createRng(o.seed + users);
      const sessions: UserSession[] = Array.from({ length: users }, (_, u) => ({
        miners: addresses, words: o.words,
        prompt: samplePrompt(text, 4 + rng.int(6), rng.next), seed: o.seed * 1_000 + users * 100 + u,
        pickSeed: o.seed * 7_919 + users * 101 + u,
      }));
      // Every user in its own thread, its model loaded before the clock starts (user-thread.ts says why).
      const threads = await Promise.all(sessions.map(() => startUserThread(o)));
      const la0 = loadavg();
      log(`level ${users}: ${users} concurrent sessions × ${o.words} words (load ${la0.map((x) => x.toFixed(2)).join(" ")}) …`);
      const t0 = performance.now();
      // Users arrive `staggerMs` apart (then all run at once): arrivals in the same millisecond would all see the same
      // idle miners, which no health-based choice can tell apart.
      const outcomes = await Promise.all(sessions.map(async (s, u) => {
        await new Promise((r) => setTimeout(r, u * o.staggerMs));
        return threads[u]!.run(s);
      })).finally(() => Promise.all(threads.map((t) => t.stop())));
      const seconds = (performance.now() - t0) / 1000;
      const la1 = loadavg();
      const words = outcomes.flatMap((x) => x.words);
      const ms = words.map((w) => w.ms);
      const later = outcomes.flatMap((x) => x.words.slice(1).map((w) => w.ms));
      const firsts = outcomes.filter((x) => x.words.length > 0).map((x) => x.words[0]!.ms);
      const kinds: Record<string, number> = {};
      for (const x of outcomes) if (x.error !== undefined) kinds[x.error] = (kinds[x.error] ?? 0) + 1;
      const bytesUp = words.reduce((s, w) => s + w.bytesUp, 0);
      const bytesDown = words.reduce((s, w) => s + w.bytesDown, 0);
      const keyBytes = outcomes.reduce((s, x) => s + x.keyBytes, 0);
      const perMiner = addresses.map((a) => outcomes.filter((x) => x.firstMiner === a.peerId).length);
      const stated = outcomes.flatMap((x) => (x.chosenStatedSessions === undefined ? [] : [x.chosenStatedSessions]));
      await new Promise((r) => setTimeout(r, 300)); // one more RSS sample from every miner
      // The miners' pools over this level: steps and their summed wall time, split and whole.
      const pool = { splitSteps: 0, wholeSteps: 0, splitStepMs: 0, wholeStepMs: 0 };
      for (const [i, m] of miners.entries()) {
        for (const k of Object.keys(pool) as (keyof typeof pool)[]) pool[k] += m.stats[k] - before[i]![k];
      }
      const row: LevelResult = {
        users, words: words.length, seconds: round(seconds, 2), words_per_s: round(words.length / seconds, 2),
        ms_per_word: { p50: round(quantile(ms, 0.5)), p95: round(quantile(ms, 0.95)), p99: round(quantile(ms, 0.99)),
          max: round(Math.max(0, ...ms)), mean: round(ms.reduce((s, x) => s + x, 0) / Math.max(1, ms.length)) },
        ms_per_word_after_first: { p50: round(quantile(later, 0.5)), p95: round(quantile(later, 0.95)) },
        first_word_ms_p50: round(quantile(firsts, 0.5)),
        errors: outcomes.filter((x) => x.error !== undefined).length, error_kinds: kinds,
        busy_waits: outcomes.reduce((s, x) => s + x.busyWaits, 0),
        busy_wait_ms: Math.round(outcomes.reduce((s, x) => s + x.busyWaitMs, 0)),
        failovers: outcomes.reduce((s, x) => s + x.failovers, 0),
        sessions_per_miner: perMiner,
        chosen_miner_stated_sessions_max: Math.max(0, ...stated),
        bytes_up_per_word: Math.round(bytesUp / Math.max(1, words.length)),
        bytes_down_per_word: Math.round(bytesDown / Math.max(1, words.length)),
        key_upload_bytes_per_session: Math.round(keyBytes / Math.max(1, outcomes.length)),
        bytes_up_total: bytesUp + keyBytes, bytes_down_total: bytesDown,
        miner_rss_peak_mib: miners.map((m) => round(m.rssPeak / 2 ** 20)),
        split_steps: pool.splitSteps, whole_steps: pool.wholeSteps,
        miner_split_step_ms_mean: pool.splitSteps === 0 ? null : round(pool.splitStepMs / pool.splitSteps),
        miner_whole_step_ms_mean: pool.wholeSteps === 0 ? null : round(pool.wholeStepMs / pool.wholeSteps),
        loadavg_before: la0.map((x) => round(x, 2)), loadavg_after: la1.map((x) => round(x, 2)),
      };
      results.push(row);
      log(`  ${row.words_per_s} words/s, p50 ${row.ms_per_word.p50} ms, p95 ${row.ms_per_word.p95} ms, errors ${row.errors}, ` +
        `BUSY waits ${row.busy_waits}, sessions per miner ${perMiner.join("/")}`);
    }
    return results;
  } finally {
    await Promise.all(miners.map(stopMiner));
  }
}

interface UserThread {
  run(session: UserSession): Promise<SessionOutcome>;
  stop(): Promise<void>;
}

async function startUserThread(o: LoadBenchOptions): Promise<UserThread> {
  const boot = new URL("../../nodes/fhe/worker-boot.mjs", import.meta.url);
  const entry = new URL("./user-thread.ts", import.meta.url).href;
  const w = new Worker(boot, { workerData: { entry, modelDir: o.modelDir, modelName: o.modelName } });
  await new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`user thread exited (${code}) before it was ready`)));
  });
  return {
    run: (session) => new Promise<SessionOutcome>((resolve, reject) => {
      w.once("message", (m: { outcome: SessionOutcome }) => resolve(m.outcome));
      w.once("error", reject);
      w.postMessage({ session });
    }),
    stop: async () => { await w.terminate(); },
  };
}

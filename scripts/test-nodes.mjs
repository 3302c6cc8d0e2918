#!/usr/bin/env node
// Runs the off-chain test suite with Node's own test runner (its closing lines are what CI reads).
// Node 20's `--test` takes no globs, so we collect test/nodes/**/*.test.ts here. Extra arguments filter by path
// substring: `npm run test:nodes -- fhe` runs only files whose path contains "fhe".
// Before the closing lines it prints each file's wall time, slowest first, so the slow ones stay visible.
// Files marked `test-lane: clock` run in a second lane beside the others (see below).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);
if (filters.includes("--help")) {
  console.log("usage: node scripts/test-nodes.mjs [path-substring...]   (npm run test:nodes -- <filter>)");
  process.exit(0);
}

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

const files = collect(join(root, "test/nodes"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files under test/nodes match ${JSON.stringify(filters)}`);
  process.exit(1);
}

// Two lanes run side by side: files marked `test-lane: clock` spend most of their run waiting on a real-time chain
// (1 s blocks, epochs passing), so they run in their own serial lane beside the rest instead of after it. Each lane
// runs one file at a time. CERBERUS_TEST_LANES=1 runs everything in one lane.
const CLOCK_MARK = /^\s*(\/\/|\*)\s*test-lane: clock\b/m;
const clockFiles = process.env.CERBERUS_TEST_LANES === "1" ? []
  : files.filter((f) => CLOCK_MARK.test(readFileSync(join(root, f), "utf8").slice(0, 4000)));
const lanes = [files.filter((f) => !clockFiles.includes(f)), clockFiles].filter((l) => l.length > 0);

const scratch = mkdtempSync(join(tmpdir(), "cerberus-test-times-"));

/** One serial `node --test` run over `laneFiles`; TAP goes to `emit` as it comes, its closing lines are returned. */
function runLane(laneFiles, timesFile, emit) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1",
      "--test-reporter=tap", "--test-reporter-destination=stdout",
      `--test-reporter=${join(root, "scripts/test-times-reporter.mjs")}`, `--test-reporter-destination=${timesFile}`,
      ...laneFiles],
    // Agents log at info by default; in tests only warnings and errors are worth reading.
    { cwd: root, stdio: ["inherit", "pipe", "inherit"], env: { CERBERUS_LOG_LEVEL: "warn", ...process.env } },
  );
  // Pass TAP through, but hold its closing lines (from "# tests N" on) until the time table is printed.
  const closing = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (closing.length > 0 || /^# tests \d+$/.test(line)) closing.push(line);
    else emit(line);
  });
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ status: code ?? (signal ? 1 : 1), closing })));
}

// The first lane streams; the clock lane's TAP is held and printed after it, so the two never interleave.
const held = [];
const results = await Promise.all(lanes.map((laneFiles, k) =>
  runLane(laneFiles, join(scratch, `times-${k}.jsonl`), k === 0 ? (line) => console.log(line) : (line) => held.push(line))));
if (held.length > 0) {
  console.log(`# clock lane (ran beside the others): ${clockFiles.join(", ")}`);
  for (const line of held) console.log(line);
}

function timeTable() {
  const rows = lanes.flatMap((_, k) => {
    try {
      return readFileSync(join(scratch, `times-${k}.jsonl`), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  });
  if (rows.length === 0) return ["# (no per-file times: the runner wrote none)"];
  rows.sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0));
  const total = rows.reduce((s, r) => s + (r.ms ?? 0), 0);
  const out = ["# per-file wall time, slowest first (seconds, share of the total, top-level tests passed/failed; " +
    "clock-lane files ran beside the others):"];
  for (const r of rows) {
    const s = r.ms === null ? "    ?" : (r.ms / 1000).toFixed(1).padStart(6);
    const share = r.ms === null || total === 0 ? "   " : `${Math.round((100 * r.ms) / total)}%`.padStart(4);
    const lane = clockFiles.includes(relative(root, r.file)) ? "  [clock lane]" : "";
    out.push(`# ${s} s ${share}  ${relative(root, r.file)}  (${r.pass} passed${r.fail ? `, ${r.fail} FAILED` : ""})${lane}`);
  }
  out.push(`# ${(total / 1000).toFixed(1).padStart(6)} s in ${rows.length} files`);
  return out;
}

/** The lanes' closing lines as one: counts added, the duration the longest lane's. */
function mergedClosing() {
  if (results.length === 1) return results[0].closing;
  const sums = new Map();
  for (const { closing } of results) {
    for (const line of closing) {
      const m = /^# (\w+) ([\d.]+)$/.exec(line);
      if (m === null) continue;
      const v = Number(m[2]);
      sums.set(m[1], m[1] === "duration_ms" ? Math.max(sums.get(m[1]) ?? 0, v) : (sums.get(m[1]) ?? 0) + v);
    }
  }
  return [...sums].map(([k, v]) => `# ${k} ${v}`);
}

for (const line of timeTable()) console.log(line);
for (const line of mergedClosing()) console.log(line);
rmSync(scratch, { recursive: true, force: true });
process.exit(results.some((r) => r.status !== 0) ? 1 : 0);

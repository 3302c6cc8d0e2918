#!/usr/bin/env node
// Runs the off-chain test suite with Node's own test runner (its closing lines are what CI reads).
// Node 20's `--test` takes no globs, so we collect test/nodes/**/*.test.ts here. Extra arguments filter by path
// substring: `npm run test:nodes -- fhe` runs only files whose path contains "fhe".
// Before the closing lines it prints each file's wall time, slowest first, so the slow ones stay visible.
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

const scratch = mkdtempSync(join(tmpdir(), "cerberus-test-times-"));
const timesFile = join(scratch, "times.jsonl");
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1",
    "--test-reporter=tap", "--test-reporter-destination=stdout",
    `--test-reporter=${join(root, "scripts/test-times-reporter.mjs")}`, `--test-reporter-destination=${timesFile}`,
    ...files],
  // Agents log at info by default; in tests only warnings and errors are worth reading.
  { cwd: root, stdio: ["inherit", "pipe", "inherit"], env: { CERBERUS_LOG_LEVEL: "warn", ...process.env } },
);

// Pass TAP through as it comes, but hold its closing lines (from "# tests N" on) until the time table is printed.
const closing = [];
const lines = createInterface({ input: child.stdout });
lines.on("line", (line) => {
  if (closing.length > 0 || /^# tests \d+$/.test(line)) closing.push(line);
  else console.log(line);
});
const status = await new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 1))));

function timeTable() {
  let rows;
  try {
    rows = readFileSync(timesFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return ["# (no per-file times: the runner wrote none)"];
  }
  rows.sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0));
  const total = rows.reduce((s, r) => s + (r.ms ?? 0), 0);
  const out = ["# per-file wall time, slowest first (seconds, share of the total, top-level tests passed/failed):"];
  for (const r of rows) {
    const s = r.ms === null ? "    ?" : (r.ms / 1000).toFixed(1).padStart(6);
    const share = r.ms === null || total === 0 ? "   " : `${Math.round((100 * r.ms) / total)}%`.padStart(4);
    out.push(`# ${s} s ${share}  ${relative(root, r.file)}  (${r.pass} passed${r.fail ? `, ${r.fail} FAILED` : ""})`);
  }
  out.push(`# ${(total / 1000).toFixed(1).padStart(6)} s in ${rows.length} files`);
  return out;
}

for (const line of timeTable()) console.log(line);
for (const line of closing) console.log(line);
rmSync(scratch, { recursive: true, force: true });
process.exit(status);

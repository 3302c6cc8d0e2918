#!/usr/bin/env node
// Runs the off-chain test suite with Node's own test runner (its closing lines are what CI reads).
// Node 20's `--test` takes no globs, so we collect test/nodes/**/*.test.ts here. Extra arguments filter by path
// substring: `npm run test:nodes -- fhe` runs only files whose path contains "fhe".
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);

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
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", ...files],
  // Agents log at info by default; in tests only warnings and errors are worth reading.
  { cwd: root, stdio: "inherit", env: { CERBERUS_LOG_LEVEL: "warn", ...process.env } },
);
process.exit(result.status ?? 1);

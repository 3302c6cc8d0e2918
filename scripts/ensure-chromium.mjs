#!/usr/bin/env node
// First step of `npm test`: the dashboard's browser tests drive Debian's chromium through playwright-core (never a
// browser download). On a fresh machine it is missing: as root with apt-get, install it from Debian's packages;
// otherwise stop with the exact command to run. CHROMIUM_PATH points the tests at another binary.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(path)) process.exit(0);

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
const command = "apt-get update -qq && apt-get install -y -qq chromium";
if (process.env.CHROMIUM_PATH !== undefined || !isRoot || !hasApt) {
  console.error(`ensure-chromium: no browser at ${path}. The dashboard tests need Debian's chromium:\n` +
    `  sudo sh -c '${command}'\n(or set CHROMIUM_PATH to a Chromium binary).`);
  process.exit(1);
}
console.error(`ensure-chromium: ${path} is missing; installing Debian's chromium (${command})`);
const r = spawnSync("sh", ["-c", command], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
if (r.status !== 0 || !existsSync(path)) {
  console.error(`ensure-chromium: the install failed (exit ${r.status}); run it by hand: ${command}`);
  process.exit(1);
}

/**
 * Ctrl-C stops an agent gracefully however busy it is: the npm scripts that run agents must deliver SIGINT to the
 * agent and wait for it. (tsx's own CLI does not: when a signal finds its child's event loop busy for 60 ms, it
 * SIGKILLs the child, so a validator in the middle of FHE work died without its shutdown.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const scripts = (JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const fixture = "test/nodes/fixtures/busy-agent.ts";

/** Runs the script's own command line with the fixture in place of its entry point; SIGINTs its process group. */
async function interrupt(command: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const child = spawn("bash", ["-c", command], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const t0 = Date.now();
  while (!output.includes("busy agent ready")) {
    if (Date.now() - t0 > 30_000) throw new Error(`${command} never became ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500));
  process.kill(-child.pid!, "SIGINT");
  const killer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, 20_000);
  const end = await exited;
  clearTimeout(killer);
  return { ...end, output };
}

for (const name of ["cerberus", "start"]) {
  test(`npm run ${name}: SIGINT to the process group lets a busy agent finish its shutdown`, { timeout: 60_000 }, async () => {
    const entry = name === "start" ? "nodes/cli.ts demo" : "nodes/cli.ts";
    const line = scripts[name]!.split("&&").at(-1)!.trim();
    assert.ok(line.includes(entry), `${name}'s script runs ${entry}: ${scripts[name]}`);
    const r = await interrupt(line.replace(entry, fixture));
    assert.match(r.output, /busy agent stopped/, `${line}: the agent was killed before its shutdown (exit ${r.code}, ${r.signal}):\n${r.output}`);
  });
}

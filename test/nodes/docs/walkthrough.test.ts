/**
 * docs/OPERATIONS.md's live-chain walkthrough, run as a newcomer runs it: every command of its `walkthrough` blocks,
 * in order, exactly as written — `npx hardhat node` with a block a second, the deploy script, a miner and a validator
 * as their own processes, a user generating, an epoch settled and paid, claims, a take raise, unstake and withdraw.
 * No flag is added to any command. Three things differ from a user's terminal, all in the environment and none
 * changing what the agents do: the deployments file and the agents' state folders live in a temporary folder
 * (CERBERUS_DEPLOYMENT_OUT / CERBERUS_DEPLOYMENT, CERBERUS_HOME), and agents log at info (their "ready" lines are
 * what the test waits for).
 *
 * test-lane: clock — most of its run waits on the 1-second chain's epochs.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { docsBlocks } from "./fenced.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const LOCK = join(tmpdir(), "cerberus-walkthrough.lock");
const dir = mkdtempSync(join(tmpdir(), "cerberus-walkthrough-"));
const env: Record<string, string | undefined> = {
  ...process.env,
  CERBERUS_DEPLOYMENT_OUT: join(dir, "localhost.json"),
  CERBERUS_DEPLOYMENT: join(dir, "localhost.json"),
  CERBERUS_HOME: join(dir, "agents"),
  CERBERUS_LOG_LEVEL: "info",
  CERBERUS_ACCOUNT: "",
  CERBERUS_PRIVATE_KEY: "",
};
delete env.CERBERUS_RPC_URL; // the walkthrough's chain is the default one

interface Background { command: string; child: ChildProcess; output: () => string; exited: Promise<number | null> }
const background: Background[] = [];

function start(command: string): Background {
  // Its own process group, so that SIGINT reaches npm and the agent alike, as Ctrl-C in a terminal does.
  const child = spawn("bash", ["-c", command], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { command, child, output: () => text, exited };
}

function run(command: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("bash", ["-c", command], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => { clearTimeout(timer); done({ code, stdout, stderr }); });
  });
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether something already listens on 127.0.0.1:8545 (the walkthrough's chain must be its own). */
function portTaken(): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: "127.0.0.1", port: 8545 });
    s.once("connect", () => { s.destroy(); r(true); });
    s.once("error", () => r(false));
  });
}

/** One walkthrough at a time per machine: parallel suites (several checkouts) would fight over port 8545. */
async function lock(): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch {
      const holder = Number(readFileSync(LOCK, "utf8"));
      let alive = false;
      try { process.kill(holder, 0); alive = true; } catch { /* gone */ }
      if (!alive) { rmSync(LOCK, { force: true }); continue; }
      if (Date.now() - t0 > 20 * 60_000) throw new Error(`another walkthrough (pid ${holder}) holds ${LOCK}`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

after(async () => {
  for (const b of [...background].reverse()) {
    if (b.child.exitCode === null && b.child.pid !== undefined) {
      try { process.kill(-b.child.pid, "SIGKILL"); } catch { /* already gone */ }
    }
  }
  try { if (Number(readFileSync(LOCK, "utf8")) === process.pid) unlinkSync(LOCK); } catch { /* not ours */ }
  rmSync(dir, { recursive: true, force: true });
});

/** npm prints "> pkg@version script" and the script line on stdout before the script's own output. */
function withoutNpmBanner(stdout: string): string {
  return stdout.split("\n").filter((l) => !/^> /.test(l)).join("\n").trim();
}

const amount = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);

test("docs/OPERATIONS.md's walkthrough works as written: a chain, a miner, a validator, a user, an epoch paid", { timeout: 40 * 60_000 }, async () => {
  const steps = docsBlocks(root).filter((b) => b.directive.kind === "walkthrough");
  assert.ok(steps.length >= 5, "the walkthrough is in docs/OPERATIONS.md");
  await lock();
  assert.equal(await portTaken(), false, "127.0.0.1:8545 is already in use: stop that chain first");
  const outputs: { command: string; stdout: string; stderr: string }[] = [];

  for (const block of steps) {
    const directive = block.directive as { kind: "walkthrough"; background?: string };
    for (const command of block.commands) {
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (exported) { env[exported[1]!] = exported[2]!; continue; }
      if (directive.background !== undefined) {
        const b = start(command);
        background.push(b);
        await until(`"${directive.background}" from ${command}`, () => {
          if (b.child.exitCode !== null) throw new Error(`${command} exited ${b.child.exitCode} before "${directive.background}":\n${b.output().slice(-2000)}`);
          return b.output().includes(directive.background!);
        }, 10 * 60_000);
        continue;
      }
      const r = await run(command, 20 * 60_000);
      assert.equal(r.code, 0, `${command}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-1000)}`);
      outputs.push({ command, ...r });
    }
  }
  const out = (fragment: string) => {
    const o = outputs.find((x) => x.command.includes(fragment));
    assert.ok(o, `the walkthrough runs "${fragment}"`);
    return o;
  };

  // The user's text alone on stdout (progress and the summary on stderr), readable.
  const text = withoutNpmBanner(out(" generate ").stdout);
  assert.equal(text.split("\n").length, 1, `one line of text on stdout:\n${text}`);
  assert.match(text, /^the jury said\b/);
  // 20 sampled tokens; punctuation joins its neighbour when detokenized, so count pieces loosely.
  assert.ok(text.split(/\s+/).length >= 8, text);
  assert.doesNotMatch(text, /tok\/s|words\/s|\[\d+\/\d+|failover|mixture/);
  // The request went out shaped: sessions of the workload model's lengths, the padding counted and discarded.
  const summary = /20 words in (\d+) session\(s\) \(\+(\d+) padding words[^)]*\), median \d+ ms\/word/.exec(out(" generate ").stderr);
  assert.ok(summary, out(" generate ").stderr);
  assert.ok(Number(summary[1]) >= 1 && Number(summary[2]) >= 0, summary[0]);

  // An epoch settled and paid the honest miner; the staker commands say what they did, with amounts.
  const status = out("--until-settled").stdout;
  assert.ok(amount(status, /last settled (\d+)/) >= 1, status);
  assert.ok(amount(status, /miner\s+0\s+incentive ([\d.]+)/) > 0, status);
  assert.ok(amount(out("positions 0x7099").stdout, /miner seat 1:0\s+claimable ([\d.]+) CBR/) > 0, out("positions 0x7099").stdout);
  assert.ok(amount(out("claim --miner").stdout, /claimed ([\d.]+) CBR/) > 0, out("claim --miner").stdout);
  assert.ok(amount(out("claim 0x3C44").stdout, /claimed ([\d.]+) CBR/) > 0, out("claim 0x3C44").stdout);
  assert.match(out("take 20").stdout, /take raise to 20% scheduled: it applies from block \d+/);
  assert.match(out("unstake").stdout, /unbonding 100 CBR/);
  assert.match(out("withdraw --wait").stdout, /^withdrew 100 CBR$/m);

  // The validator, started with no flag on a 1-second chain, never overran its deadline or lost an epoch.
  const validator = background.find((b) => b.command.includes(" validator "))!;
  assert.doesNotMatch(validator.output(), /scoring overran its deadline|epoch lost|epoch ended before the commit landed/,
    validator.output().split("\n").filter((l) => /"level":(40|50)/.test(l)).join("\n"));

  // Ctrl-C, as a terminal sends it (SIGINT to the whole process group: bash, npm, sh, the agent): each agent
  // stops gracefully and its whole group is gone within a minute. (npm itself ends by the signal, as Ctrl-C'd
  // programs do; the agent's own "stopped" line is what says the shutdown was clean.)
  for (const b of [...background].reverse()) {
    const pgid = b.child.pid!;
    process.kill(-pgid, "SIGINT");
    await until(`${b.command} to exit after SIGINT`, () => !groupAlive(pgid), 60_000);
    const stopped = b.command.includes(" validator ") ? "validator stopped" : b.command.includes(" miner ") ? "miner stopped" : undefined;
    if (stopped !== undefined) assert.match(b.output(), new RegExp(`"msg":"${stopped}"`), `${b.command} after SIGINT:\n${b.output().slice(-1500)}`);
  }
});

/** Whether any process of the group still runs. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

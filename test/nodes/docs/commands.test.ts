/**
 * The docs cannot rot: every shell command they show is checked here (cheap twins, CI's own commands) or run for real
 * by walkthrough.test.ts (the live-chain walkthrough). See fenced.ts for the directives.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { docsBlocks, fencedBlocks, parseDirective } from "./fenced.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const blocks = docsBlocks(root);

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? testFiles(path) : name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

test("the directive parser reads every form and refuses the rest, so a block without one fails", () => {
  assert.deepEqual(parseDirective("<!-- check: walkthrough -->"), { kind: "walkthrough" });
  assert.deepEqual(parseDirective('<!-- check: walkthrough background "miner serving" -->'), { kind: "walkthrough", background: "miner serving" });
  assert.deepEqual(parseDirective("<!-- check: run npm run bench -- --help -->"), { kind: "run", command: "npm run bench -- --help" });
  assert.deepEqual(parseDirective("<!-- check: skip: needs a GPU -->"), { kind: "skip", reason: "needs a GPU" });
  assert.equal(parseDirective("<!-- check: maybe -->").kind, "invalid");
  assert.equal(parseDirective("Some prose.").kind, "invalid");
  const parsed = fencedBlocks("x.md", "intro\n\n```sh\nnpm test\n```\n\n<!-- check: ci -->\n```sh\n# a comment\nnpm test\n```\n");
  assert.deepEqual(parsed.map((b) => [b.line, b.directive.kind, b.commands]), [[3, "invalid", ["npm test"]], [8, "ci", ["npm test"]]]);
});

test("every shell command in README.md and docs/ says how CI checks it", () => {
  assert.ok(blocks.length >= 20, `found ${blocks.length} blocks`);
  const bad = blocks.filter((b) => b.directive.kind === "invalid")
    .map((b) => `${b.file}:${b.line} ${b.commands[0] ?? ""}: ${(b.directive as { why: string }).why}`);
  assert.deepEqual(bad, []);
  const walkthrough = blocks.filter((b) => b.directive.kind === "walkthrough");
  assert.ok(walkthrough.length >= 5 && walkthrough.every((b) => b.file === "docs/OPERATIONS.md"), "the walkthrough lives in OPERATIONS.md");
});

test("CI's own commands in the docs are real: each test filter matches test files, each script exists", () => {
  const all = testFiles(join(root, "test/nodes"));
  const problems: string[] = [];
  for (const b of blocks.filter((x) => x.directive.kind === "ci")) {
    for (const c of b.commands) {
      const filter = /^npm run test:nodes -- (\S+)$/.exec(c);
      if (filter) {
        if (!all.some((f) => f.includes(filter[1]!))) problems.push(`${b.file}:${b.line} "${c}" matches no test file`);
      } else if (!["npm test", "npm run test:contracts", "npm run test:nodes"].includes(c)) {
        problems.push(`${b.file}:${b.line} "${c}" is not one of CI's test commands`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("the cheap twins of the docs' other commands run (each script, bench and CLI answers --help)", () => {
  const commands = [...new Set(blocks.flatMap((b) => (b.directive.kind === "run" ? [b.directive.command] : [])))];
  assert.ok(commands.length >= 10, commands.join("\n"));
  const failed: string[] = [];
  for (const command of commands) {
    const r = spawnSync("bash", ["-c", command], { cwd: root, encoding: "utf8", timeout: 180_000,
      env: { ...process.env, CERBERUS_LOG_LEVEL: "warn" } });
    if (r.status !== 0) failed.push(`${command} → exit ${r.status}: ${(r.stderr || r.stdout).slice(-400)}`);
  }
  assert.deepEqual(failed, []);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "nodes/cli.ts", ...args], {
  encoding: "utf8", env: { ...process.env, CERBERUS_ACCOUNT: "", CERBERUS_PRIVATE_KEY: "" }, timeout: 60_000,
});

test("cerberus --help lists every role's command", () => {
  const r = cli("--help");
  assert.equal(r.status, 0, r.stderr);
  for (const cmd of ["brain", "stake", "delegate", "unstake", "withdraw", "claim", "miner", "validator", "generate", "status", "demo"]) {
    assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`), `--help shows ${cmd}`);
  }
  assert.equal(cli("miner", "--help").status, 0);
});

test("a transaction without an account, or with a missing deployments file, is a typed error and exit 1", () => {
  const noAccount = cli("--deployment", "deployments/hardhat.json", "stake", "1");
  assert.equal(noAccount.status, 1);
  assert.match(noAccount.stderr, /error \[BAD_FLAG\]: this command sends transactions/);
  const noDeployment = cli("--deployment", "deployments/nowhere.json", "status");
  assert.equal(noDeployment.status, 1);
  assert.match(noDeployment.stderr, /error \[NO_DEPLOYMENT\]/);
  const badAmount = cli("--account", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "stake", "lots");
  assert.notEqual(badAmount.status, 0);
  assert.match(badAmount.stderr, /an amount of CBR/);
});

test("a malformed private key is a typed error, never a crash with a stack trace", () => {
  const r = cli("--deployment", "deployments/hardhat.json", "--private-key", "0x1234", "stake", "1");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error \[BAD_FLAG\]: --private-key must be/);
});

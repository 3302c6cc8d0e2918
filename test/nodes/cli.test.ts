import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "nodes/cli.ts", ...args], {
  encoding: "utf8", env: { ...process.env, CERBERUS_ACCOUNT: "", CERBERUS_PRIVATE_KEY: "" }, timeout: 60_000,
});

test("cerberus --help lists every role's command", () => {
  const r = cli("--help");
  assert.equal(r.status, 0, r.stderr);
  for (const cmd of ["brain", "stake", "delegate", "unstake", "withdraw", "claim", "claim-removed", "commission", "take",
    "positions", "deregister", "miner", "validator", "generate", "status", "demo"]) {
    assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`), `--help shows ${cmd}`);
  }
  assert.equal(cli("miner", "--help").status, 0);
});

test("a transaction without an account, or with a missing deployments file, is a typed error and exit 1", () => {
  const noAccount = cli("--deployment", "test/nodes/fixtures/deployment.json", "stake", "1");
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
  const r = cli("--deployment", "test/nodes/fixtures/deployment.json", "--private-key", "0x1234", "stake", "1");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error \[BAD_FLAG\]: --private-key must be/);
});

test("every command's --help works (bigint defaults used to crash commander's help)", () => {
  for (const args of [["brain", "create"], ["brain", "show"], ["status"], ["stake"], ["delegate"], ["unstake"], ["withdraw"],
    ["claim"], ["miner"], ["validator"], ["generate"], ["demo"], ["transfer"], ["balance"], ["take"], ["commission"],
    ["claim-removed"], ["positions"], ["deregister"]]) {
    const r = cli(...args, "--help");
    assert.equal(r.status, 0, `${args.join(" ")} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: cerberus/);
  }
  assert.match(cli("brain", "create", "--help").stdout, /--min-validator-stake <cbr>.*\(default: 1000\)/);
});

test("amounts are checked before anything is sent: negative, zero, too many decimals", () => {
  const account = ["--deployment", "test/nodes/fixtures/deployment.json", "--account", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"];
  const cases: [string[], RegExp][] = [
    [["stake", "--", "-5"], /must not be negative/],
    [["stake", "-5"], /unknown option '-5'|must not be negative/],
    [["stake", "0"], /more than zero/],
    [["stake", "0.000"], /more than zero/],
    [["stake", "1.0000000000000000001"], /at most 18 decimals/],
    [["unstake", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "1e3"], /an amount of CBR, e\.g\. 12\.5/],
    [["transfer", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "-1"], /unknown option '-1'|must not be negative/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...account, ...args);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.match(r.stderr, message, `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /RPC_UNAVAILABLE|retry/i);
  }
});

test("claim takes a hotkey or --miner brainId:uid, not both and not neither", () => {
  const account = ["--deployment", "test/nodes/fixtures/deployment.json", "--account", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"];
  for (const args of [["claim"], ["claim", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "--miner", "1:0"]]) {
    const r = cli(...account, ...args);
    assert.equal(r.status, 1, args.join(" "));
    assert.match(r.stderr, /error \[BAD_FLAG\]: give either a <hotkey>/);
  }
  const bad = cli(...account, "claim", "--miner", "1-0");
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /a miner seat as brainId:uid/);
});

test("generate refuses what it cannot do before loading anything: no words, an empty prompt", () => {
  const fixture = ["--deployment", "test/nodes/fixtures/deployment.json"];
  const zero = cli(...fixture, "generate", "--brain", "1", "--words", "0", "the jury said");
  assert.notEqual(zero.status, 0);
  assert.match(zero.stderr, /--words.*a whole number of at least 1/);
  assert.equal(zero.stdout, "", "nothing printed as if it were text");
  const empty = cli(...fixture, "generate", "--brain", "1", "  ");
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /error \[EMPTY_PROMPT\]/);
  assert.equal(empty.stdout, "");
  for (const r of [zero, empty]) assert.doesNotMatch(r.stderr, /client mixture|RPC_UNAVAILABLE/);
});

test("an empty CERBERUS_RPC_URL counts as unset (it crashed with viem's UrlRequiredError); a bad one is a typed error", () => {
  // (It must get as far as asking the default endpoint; whether a chain answers there does not matter.)
  const empty = spawnSync(process.execPath, ["--import", "tsx", "nodes/cli.ts", "--deployment", "test/nodes/fixtures/deployment.json",
    "balance", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"], {
    encoding: "utf8", env: { ...process.env, CERBERUS_RPC_URL: "", CERBERUS_LOG_LEVEL: "error" }, timeout: 60_000 });
  // Either a chain answers on the default endpoint (exit 0) or the failure is a typed one; never viem's crash.
  assert.ok(empty.status === 0 || /^error \[RPC_\w+\]/m.test(empty.stderr), empty.stderr);
  assert.doesNotMatch(empty.stderr, /UrlRequiredError|\n\s+at /);
  const bad = cli("--rpc", "localhost:8545", "--deployment", "test/nodes/fixtures/deployment.json", "status");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /error \[BAD_FLAG\]: --rpc localhost:8545 is not an http\(s\) or ws\(s\) URL/);
});

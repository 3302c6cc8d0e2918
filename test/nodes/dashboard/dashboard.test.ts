/**
 * Browser test of the dashboard: real contracts on Hardhat's in-process EVM (seeded through their own flows: a Brain
 * of 224 miners + 32 validators with two settled epochs, a small second Brain, a delegator), served over HTTP by a
 * counting JSON-RPC proxy, the dashboard built and served by Vite, driven by Debian's chromium via playwright-core.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { build, preview, type PreviewServer } from "vite";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { parseUnits, type Address } from "viem";
import { brainRegistryAbi, cerberusTokenAbi, consensusAbi, emissionAbi, stakingAbi } from "../../../nodes/chain-artifacts/generated/abis.ts";
import { seedChain, type SeededChain } from "../sdk/seed.ts";
import { startRpcProxy, type RpcProxy, type Eip1193 } from "../../../nodes/chain/rpc-server.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const out = join(root, "test-output", "dashboard");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const MINERS = 224;
const VALIDATORS = 32;
const COMMIT_CURRENT = 12;
const RPC_BUDGET = 10;

let chain: SeededChain;
let rpc: RpcProxy;
let server: PreviewServer;
let ctx: BrowserContext;
let base: string;
let profile: string;

/**
 * An EIP-1193 provider backed by the test node, which signs for its unlocked accounts — stands in for a browser
 * wallet extension; the transactions are real and mined by the EVM. Passed as source text: tsx would otherwise wrap
 * a serialized function with helpers the page does not have.
 */
async function injectWallet(page: Page, account: string): Promise<void> {
  await page.addInitScript({
    content: `window.ethereum = {
      request: async ({ method, params }) => {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [${JSON.stringify(account)}];
        const res = await fetch("/rpc", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }),
        });
        const j = await res.json();
        if (j.error) throw Object.assign(new Error(j.error.message), { code: j.error.code, data: j.error.data });
        return j.result;
      },
    };`,
  });
}

async function load(page: Page, hash: string, ready: string): Promise<void> {
  // about:blank first so a hash change is a full page load (fresh JS state, every read counted).
  await page.goto("about:blank");
  await page.goto(`${base}${hash}`);
  await page.waitForSelector(`body[data-ready="${ready}"]`, { timeout: 60_000 });
  const err = await page.$("[data-error]");
  assert.equal(err, null, `page shows an error: ${err ? await err.textContent() : ""}`);
}

describe("dashboard in a real browser", { timeout: 240_000 }, () => {
  before(async () => {
    mkdirSync(out, { recursive: true });
    const t0 = Date.now();
    chain = await seedChain([
      { miners: MINERS, validators: VALIDATORS, tempo: 100, settledEpochs: 2, commitCurrent: COMMIT_CURRENT },
      { miners: 3, validators: 1, tempo: 40, settledEpochs: 0 },
    ]);
    console.log(`# seeded chain in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const deploymentPath = join(out, "deployment.json");
    writeFileSync(deploymentPath, JSON.stringify(chain.deploymentJson, null, 2));
    rpc = await startRpcProxy(hre.network.provider as unknown as Eip1193);
    process.env.CERBERUS_RPC_URL = rpc.url;
    process.env.CERBERUS_DEPLOYMENT = deploymentPath;
    process.env.DASHBOARD_QUIET = "1";
    const configFile = join(root, "dashboard", "vite.config.ts");
    const outDir = join(out, "dist");
    const t1 = Date.now();
    await build({ configFile, build: { outDir, emptyOutDir: true } });
    console.log(`# vite build in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    server = await preview({ configFile, build: { outDir }, preview: { port: 0, host: "127.0.0.1", open: false } });
    const url = server.resolvedUrls?.local[0];
    assert.ok(url, "vite preview has no local URL");
    base = url.replace(/\/$/, "") + "/";
    profile = mkdtempSync(join(tmpdir(), "cerberus-chromium-"));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await ctx?.close();
    await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
    await rpc?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("lists the Brains with their seat counts, with a clean console (no 404s)", async () => {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    await load(page, "#/", "brains");
    const rows = await page.$$eval("#brains tbody tr", (trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute("data-brain"),
        miners: tr.querySelector("[data-miners]")?.getAttribute("data-miners"),
        validators: tr.querySelector("[data-validators]")?.getAttribute("data-validators"),
      })),
    );
    assert.deepEqual(rows, [
      { id: "1", miners: String(MINERS), validators: String(VALIDATORS) },
      { id: "2", miners: "3", validators: "1" },
    ]);
    assert.deepEqual(problems, []);
    const price = await chain.client.readContract({ address: chain.reader.deployment.addresses.brainRegistry,
      abi: brainRegistryAbi, functionName: "registrationPrice" });
    assert.equal(await page.getAttribute("#brain-price", "data-wei"), String(price));
    await page.close();
  });

  it("shows a 256-neuron Brain with on-chain incentives in ≤ 10 RPC requests", async () => {
    const page = await ctx.newPage();
    rpc.reset();
    await load(page, "#/brain/1", "brain");
    const stats = rpc.stats();
    console.log(`# Brain page (256 neurons): ${stats.calls} JSON-RPC calls in ${stats.httpRequests} HTTP requests ${JSON.stringify(stats.methods)}`);
    writeFileSync(join(out, "rpc-count.json"), JSON.stringify({ page: "brain/1", neurons: 256, ...stats }, null, 2));
    assert.ok(stats.calls <= RPC_BUDGET, `${stats.calls} JSON-RPC calls > ${RPC_BUDGET}`);
    assert.ok(stats.httpRequests <= RPC_BUDGET, `${stats.httpRequests} HTTP requests > ${RPC_BUDGET}`);

    const count = await page.getAttribute("#neuron-count", "data-count");
    assert.equal(count, String(MINERS + VALIDATORS));
    assert.equal(await page.locator("#miners tbody tr").count(), MINERS);
    assert.equal(await page.locator("#validators tbody tr").count(), VALIDATORS);

    // Incentives on the page equal the contract's, uid by uid.
    const onChain = await chain.client.readContract({
      address: chain.reader.deployment.addresses.consensus,
      abi: consensusAbi,
      functionName: "minerIncentives",
      args: [1n],
    }) as readonly number[]; // uint16[256]: too long a tuple for viem's inferred type
    const shown = await page.$$eval("#miners tbody tr", (trs) =>
      trs.map((tr) => [Number(tr.getAttribute("data-uid")), Number(tr.querySelector("[data-incentive-raw]")?.getAttribute("data-incentive-raw"))]),
    );
    assert.equal(shown.length, MINERS);
    for (const [uid, raw] of shown) assert.equal(raw, onChain[uid], `incentive of miner ${uid}`);
    assert.ok(onChain.slice(0, MINERS).some((x) => x > 0), "settled incentives are non-zero");
    // Default order: incentive, descending; one click on the header flips it.
    const sortedDesc = [...shown].map(([, r]) => r);
    assert.deepEqual(sortedDesc, [...sortedDesc].sort((a, b) => b - a));
    await page.click('th[data-sort="incentive"]');
    const asc = await page.$$eval("#miners tbody tr [data-incentive-raw]", (tds) => tds.map((td) => Number(td.getAttribute("data-incentive-raw"))));
    assert.deepEqual(asc, [...asc].sort((a, b) => a - b));

    // Commit/reveal: all revealed the previous epoch; the first COMMIT_CURRENT committed for the current one.
    const v = await page.$$eval("#validators tbody tr", (trs) =>
      trs.map((tr) => ({
        committed: tr.querySelector("[data-committed-current]")?.getAttribute("data-committed-current"),
        revealed: tr.querySelector("[data-revealed-previous]")?.getAttribute("data-revealed-previous"),
      })),
    );
    assert.equal(v.filter((x) => x.revealed === "true").length, VALIDATORS);
    assert.equal(v.filter((x) => x.committed === "true").length, COMMIT_CURRENT);
    // A commit not made yet reads as still open: the current epoch's commit window lasts until the epoch ends (the
    // page used to say "✘ missed" then). Once the epoch is over, a commit not made is "missed" in "Commit (prev)".
    const open = await page.$$eval("#validators tbody tr [data-committed-current]", (tds) => tds.map((td) => td.textContent ?? ""));
    assert.equal(open.filter((t) => /open until block \d+/.test(t)).length, VALIDATORS - COMMIT_CURRENT, open.join(" | "));
    assert.equal(open.filter((t) => /missed/.test(t)).length, 0, "nothing is missed while the window is open");
    assert.ok(open.every((t) => !/— /.test(t)), "no '— committed' marks");

    // The incentive chart is a share: its axis never goes past 100%.
    const ticks = await page.$$eval("#incentive-chart svg text.tick", (ts) => ts.map((t) => t.textContent ?? ""));
    const percents = ticks.filter((t) => t.endsWith("%")).map((t) => Number.parseFloat(t));
    assert.ok(percents.length > 0 && Math.max(...percents) <= 100, `axis ticks ${percents.join(", ")}`);
    // Emission share: the Brain's validator stake over all active Brains' (Emission's own weights).
    const [weight, total] = await Promise.all([
      chain.client.readContract({ address: chain.reader.deployment.addresses.emission, abi: emissionAbi, functionName: "brainWeight", args: [1n] }),
      chain.client.readContract({ address: chain.reader.deployment.addresses.emission, abi: emissionAbi, functionName: "totalWeight" }),
    ]);
    const shownShare = Number(await page.getAttribute("#emission-share", "data-share"));
    assert.ok(weight > 0n && total > weight, "two Brains share emission");
    assert.ok(Math.abs(shownShare - Number(weight) / Number(total)) < 1e-6, `share ${shownShare}`);
    // Validators' take is shown (the seeded chain leaves the default 18%).
    assert.deepEqual(new Set(await page.$$eval("#validators [data-take]", (tds) => tds.map((td) => td.getAttribute("data-take")))), new Set(["1800"]));
    // Chart: 8 top miners × 2 settled epochs.
    assert.equal(await page.locator("#incentive-chart svg circle").count(), 16);

    await page.click('th[data-sort="incentive"]'); // back to descending for the picture
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(out, "brain.png") });
    await page.screenshot({ path: join(out, "brain-full.png"), fullPage: true });
    if (process.env.DASHBOARD_DOCS_SCREENSHOT === "1") copyFileSync(join(out, "brain.png"), join(root, "docs", "dashboard-brain.png"));
    await page.close();
  });

  it("reads a staker's positions and claimable rewards by address (no wallet)", async () => {
    const page = await ctx.newPage();
    await load(page, `#/staker/${chain.delegator}`, "staker");
    assert.equal(await page.locator("#no-wallet").count(), 1);
    assert.equal(await page.locator('#stake-form button[type="submit"]').isDisabled(), true);
    const rows = await page.$$eval("#positions tbody tr", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-hotkey"), tr.getAttribute("data-amount"), tr.getAttribute("data-pending")]),
    );
    assert.equal(rows.length, chain.delegatedTo.length);
    let claimable = 0n;
    for (const hk of chain.delegatedTo) {
      const [amount, pending] = await chain.client.readContract({
        address: chain.reader.deployment.addresses.staking,
        abi: stakingAbi,
        functionName: "positionOf",
        args: [chain.delegator, hk],
      });
      const row = rows.find((r) => r[0] === hk.toLowerCase());
      assert.ok(row, `position on ${hk} shown`);
      assert.equal(row[1], String(amount));
      assert.equal(row[2], String(pending));
      claimable += pending;
    }
    assert.ok(claimable > 0n, "the delegator earned dividends in the settled epochs");
    // Each hotkey says which Brain it validates in (delegation only goes to validators).
    const validatorOf = await page.$$eval("#positions tbody tr [data-validator-of]", (tds) => tds.map((td) => td.getAttribute("data-validator-of")));
    assert.deepEqual(validatorOf, chain.delegatedTo.map(() => "1"));
    assert.equal(await page.getAttribute("#claimable", "data-wei"), String(claimable));
    await page.close();
  });

  it("stakes through an injected wallet", async () => {
    const page = await ctx.newPage();
    const account = chain.accounts[11];
    const hotkey = chain.brains[0].validators[2];
    await injectWallet(page, account);
    await load(page, "#/staker", "staker");
    await page.click("#connect");
    await page.waitForURL(new RegExp(`#/staker/${account}$`, "i"));
    await page.waitForSelector('body[data-ready="staker"]');
    await page.fill('#stake-form input[name="hotkey"]', hotkey);
    await page.fill('#stake-form input[name="amount"]', "25");
    await page.click('#stake-form button[type="submit"]');
    await page.waitForSelector(`#positions tr[data-hotkey="${hotkey.toLowerCase()}"]`, { timeout: 30_000 });
    const [amount] = await chain.client.readContract({
      address: chain.reader.deployment.addresses.staking,
      abi: stakingAbi,
      functionName: "positionOf",
      args: [account, hotkey],
    });
    assert.equal(amount, parseUnits("25", 18));
    assert.equal(await page.getAttribute(`#positions tr[data-hotkey="${hotkey.toLowerCase()}"]`, "data-amount"), String(amount));
    await page.screenshot({ path: join(out, "staker.png") });
    await page.close();
  });

  it("a bad address is an error under the form, which keeps what was typed", async () => {
    const page = await ctx.newPage();
    await page.goto("about:blank");
    await page.goto(`${base}#/staker/0x1234`);
    await page.waitForSelector('body[data-ready="staker"]', { timeout: 60_000 });
    assert.equal(await page.inputValue('#lookup input[name="address"]'), "0x1234");
    assert.equal(await page.locator("[data-error]").count(), 1);
    assert.equal(await page.locator("#stake-form").count(), 1);
    await page.close();
  });

  it("claims, unstakes (warned that the clock restarts) and withdraws through the wallet's buttons", async () => {
    const page = await ctx.newPage();
    const me = chain.delegator;
    const hk = chain.delegatedTo[0];
    const key = hk.toLowerCase();
    const read = async (fn: "positionOf", args: readonly [Address, Address]) =>
      chain.client.readContract({ address: chain.reader.deployment.addresses.staking, abi: stakingAbi, functionName: fn, args });
    const balance = () => chain.client.readContract({ address: chain.reader.deployment.addresses.token, abi: cerberusTokenAbi,
      functionName: "balanceOf", args: [me] });
    const dialogs: string[] = [];
    page.on("dialog", (d) => { dialogs.push(d.message()); void d.accept(); });
    await injectWallet(page, me);
    await load(page, `#/staker/${me}`, "staker");
    const n = chain.delegatedTo.length;
    assert.ok((await page.textContent("#summary") ?? "").includes(`on ${n} hotkey${n === 1 ? "" : "s"}Unbonding`));

    // Claim: the position's rewards move to the wallet.
    const [, pendingBefore] = await read("positionOf", [me, hk]);
    assert.ok(pendingBefore > 0n);
    const balanceBefore = await balance();
    await page.click(`#claim-${key}`);
    await page.waitForSelector(`#positions tr[data-hotkey="${key}"][data-pending="0"]`, { timeout: 30_000 });
    assert.ok((await balance()) - balanceBefore >= pendingBefore);

    // Unstake 1 CBR: unbonding shows the release block, the current block and the blocks left.
    await load(page, `#/staker/${me}`, "staker");
    await page.fill(`#positions tr[data-hotkey="${key}"] input[name="unstake-amount"]`, "1");
    await page.click(`#unstake-${key}`);
    await page.waitForSelector('#unbonding[data-wei="1000000000000000000"]', { timeout: 30_000 });
    assert.match(await page.textContent("#unbonding") ?? "", /release at block \d+ \(now \d+: \d+ blocks? left/);
    assert.deepEqual(dialogs, [], "no warning for a first unstake");
    // A second unstake restarts the clock on what is unbonding: the page asks first.
    await page.fill(`#positions tr[data-hotkey="${key}"] input[name="unstake-amount"]`, "2");
    await page.click(`#unstake-${key}`);
    await page.waitForSelector('#unbonding[data-wei="3000000000000000000"]', { timeout: 30_000 });
    assert.equal(dialogs.length, 1);
    assert.match(dialogs[0]!, /restarts the unbonding period/);

    // Past the release block the Withdraw button appears and pays out.
    await hre.network.provider.send("hardhat_mine", ["0x20"]);
    await load(page, `#/staker/${me}`, "staker");
    const beforeWithdraw = await balance();
    await page.click("#withdraw");
    await page.waitForSelector('#unbonding[data-wei="0"]', { timeout: 30_000 });
    assert.equal((await balance()) - beforeWithdraw, 3n * 10n ** 18n);
    await page.screenshot({ path: join(out, "staker-actions.png") });
    await page.close();
  });
});

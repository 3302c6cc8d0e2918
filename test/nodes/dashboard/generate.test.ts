/**
 * Browser test of private generation: a Brain pinned to the real model on Hardhat's in-process EVM, one real miner
 * (MinerAgent: real node-seal evaluation, real libp2p listening on TCP and /ws, registered on-chain), the dashboard
 * built and served by Vite, driven by Debian's chromium via playwright-core. The page reads the Brain, checks the
 * model files against its hashes, generates the CKKS keys itself, dials the miner over libp2p WebSockets and
 * generates greedily from the client mixture; the words must be the argmax of the plaintext ONNX reference mixed
 * the same way for the same contexts, and the miner must have received nothing but public keys and SEAL ciphertexts.
 */
import "../../../nodes/core/polyfills.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { build, preview, type PreviewServer } from "vite";
import { chromium, type BrowserContext } from "playwright-core";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { loadBrainModel, loadClientMixture, mlpModel, type MlpBrainModel as BrainModel } from "../../../nodes/client/brain-model.ts";
import { wordDistribution } from "../../../nodes/client/generate.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import { startRpcProxy, type RpcProxy, type Eip1193 } from "../../../nodes/chain/rpc-server.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { pino } from "pino";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { COMPR_ZSTD, unwrapSeal } from "../../../nodes/fhe/serialize.ts";
import type { RequestEvent } from "../../../nodes/miner/service.ts";
import type { SessionKeys } from "../../../nodes/net/evaluator.ts";
import type { MinerEvaluator } from "../../../nodes/fhe/evaluator.ts";
import { PlaintextReference } from "../../../nodes/validator/challenge.ts";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const out = join(root, "test-output", "generate");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CBR = 10n ** 18n;
const PROMPT = "the jury said";
const WORDS = 5;

interface PageResult {
  words: { id: number; word: string; ms: number; bytesUp: number; bytesDown: number; miner: string }[];
  keyBytes: number;
  keyUploadMs: number;
  failovers: number;
  sessionsOpened: number;
  sessions: number;
  paddingWords: number;
  sealLoadMs: number;
  keygen: { keyBytes: number; setupMs: number; keygenMs: number };
  perWord: { medianMs: number; steadyMedianMs: number; bytesUp: number; bytesDown: number };
  mixture: boolean;
  mixtureBuildMs: number | null;
}

describe("private generation from the dashboard in a real browser", { timeout: 300_000 }, () => {
  let model: BrainModel;
  let miner: MinerAgent;
  let rpc: RpcProxy;
  let server: PreviewServer;
  let ctx: BrowserContext;
  let base: string;
  let profile: string;
  let dataDir: string;
  let brainId: bigint;
  let deadPeerId: string;
  let deadPort: number;
  const received: { kind: "keys" | "step"; parts: Uint8Array[] }[] = [];
  const requests: RequestEvent[] = [];

  before(async () => {
    mkdirSync(out, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), "cerberus-generate-"));
    const log = createLogger("test", "warn");
    const minerLog = pino({ level: "warn" }, { write: (line: string) => console.log(`# miner log: ${line.trim().slice(0, 2000)}`) });
    model = mlpModel(loadBrainModel({ dir: join(root, "models") }));
    const deployment = JSON.parse(JSON.stringify(await deployCerberus(hre))) as unknown;
    const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
    const as = (a: Address) => new ChainClient({ transport: custom(hre.network.provider), deployment: parseDeployment(deployment), account: a, logger: log });
    brainId = await as(accounts[0]!).mintBrain({
      modelHash: model.modelHash, fheParamsHash: model.planHash, uri: "brown-lm", tempo: 50,
      limits: { maxMiners: 8, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 },
    });
    // A miner that registered a /ws address and then went away: it sorts first (uid 0, no incentive yet), so the
    // page must fail over from it to the live miner.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    deadPeerId = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
    await as(accounts[2]!).register(brainId, "Miner", { peerId: deadPeerId, multiaddrs: [`/ip4/127.0.0.1/tcp/${deadPort}/ws`] });
    miner = await MinerAgent.start({ chain: as(accounts[1]!), brainId, modelDir: join(root, "models"),
      dataDir: join(dataDir, "miner"), logger: minerLog, service: { onRequest: (e) => requests.push(e) } });
    // Record what the miner's evaluator is handed: the bytes a curious miner could look at.
    const evaluator = miner.evaluator as MinerEvaluator;
    const openSession = evaluator.openSession.bind(evaluator);
    evaluator.openSession = async (keys: SessionKeys) => {
      received.push({ kind: "keys", parts: [keys.galoisKeys.slice(), keys.relinKeys.slice()] });
      const session = await openSession(keys).catch((e: unknown) => { console.log("# miner openSession failed:", e); throw e; });
      const evaluate = session.evaluate.bind(session);
      session.evaluate = async (input: Uint8Array[]) => {
        received.push({ kind: "step", parts: input.map((p) => p.slice()) });
        return evaluate(input);
      };
      return session;
    };

    const deploymentPath = join(out, "deployment.json");
    writeFileSync(deploymentPath, JSON.stringify(deployment, null, 2));
    rpc = await startRpcProxy(hre.network.provider as unknown as Eip1193);
    process.env.CERBERUS_RPC_URL = rpc.url;
    process.env.CERBERUS_DEPLOYMENT = deploymentPath;
    process.env.CERBERUS_MODEL_DIR = join(root, "models");
    process.env.DASHBOARD_QUIET = "1";
    const configFile = join(root, "dashboard", "vite.config.ts");
    const outDir = join(out, "dist");
    await build({ configFile, build: { outDir, emptyOutDir: true } });
    server = await preview({ configFile, build: { outDir }, preview: { port: 0, host: "127.0.0.1", open: false } });
    const url = server.resolvedUrls?.local[0];
    assert.ok(url, "vite preview has no local URL");
    base = url.replace(/\/$/, "") + "/";
    profile = mkdtempSync(join(tmpdir(), "cerberus-chromium-"));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    await ctx?.close();
    await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
    await rpc?.close();
    await miner?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("the miner registered a /ws multiaddr on-chain next to its TCP one", async () => {
    const brain = await new ChainClient({ transport: custom(hre.network.provider),
      deployment: parseDeployment(JSON.parse(JSON.stringify(await import("node:fs").then((fs) => JSON.parse(fs.readFileSync(join(out, "deployment.json"), "utf8")))))),
      logger: createLogger("test", "warn") }).brain(brainId);
    const addrs = brain.miners.find((m) => m.uid === miner.uid)!.multiaddrs;
    assert.ok(addrs.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws$/.test(a)), `ws address among ${addrs.join(" ")}`);
    assert.ok(addrs.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/.test(a)), `tcp address among ${addrs.join(" ")}`);
  });

  it("generates 5 words greedily in the page from the client mixture, failing over from a dead miner: the words equal the mixed plaintext ONNX argmax, the miner saw only ciphertexts", async () => {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("console", (m) => { if (m.type() === "warning") console.log(`# page: ${m.text().slice(0, 500)}`); });
    page.on("response", (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    const sent: string[] = [];
    page.on("request", (r) => sent.push(r.url()));
    await page.goto(`${base}#/generate/${brainId}`);
    await page.waitForSelector('body[data-ready="generate"]', { timeout: 60_000 });
    assert.equal(await page.getAttribute("#miner-count", "data-count"), "2");
    await page.fill("#prompt", PROMPT);
    await page.fill("#words", String(WORDS));
    await page.fill("#top-k", "1");
    await page.click("#generate-btn");
    await page.waitForSelector('#progress[data-phase="done"], #progress[data-phase="error"]', { timeout: 240_000, state: "attached" });
    const err = await page.$("[data-error]");
    assert.equal(err, null, `page shows an error: ${err ? await err.textContent() : ""} ${await page.textContent("#failovers")}`);
    const result = JSON.parse((await page.getAttribute("#gen-stats", "data-result"))!) as PageResult;
    const shown = await page.$$eval("#output .word", (spans) => spans.map((s) => Number(s.getAttribute("data-id"))));

    // The reference: the same contexts through onnxruntime-node in plaintext, mixed as the CLI mixes (the page's
    // default); greedy = argmax over real words. The MLP's own argmax is followed alongside, to see that it differs.
    const ref = await PlaintextReference.create(model);
    const { mixture } = loadClientMixture(model)!;
    const greedy = async (mixed: boolean) => {
      const context = model.client.encode(PROMPT);
      const ids: number[] = [];
      const margins: number[] = [];
      for (let i = 0; i < WORDS; i++) {
        const logits = await ref.logits(model.client.contextInput(context));
        const p = wordDistribution(logits, model.client.vocab.size, context, 1, mixed ? mixture : undefined);
        const ranked = [...p].map((v, id) => ({ v, id })).filter((x) => x.id !== model.client.vocab.unkId).sort((a, b) => b.v - a.v);
        ids.push(ranked[0]!.id);
        margins.push(ranked[0]!.v / ranked[1]!.v);
        context.push(ranked[0]!.id);
      }
      return { ids, margins };
    };
    let expected: number[];
    let mlpOnly: number[];
    let margins: number[];
    try {
      ({ ids: expected, margins } = await greedy(true));
      mlpOnly = (await greedy(false)).ids;
    } finally {
      await ref.release();
    }
    const words = (ids: number[]) => ids.map((id) => model.client.vocab.words[id]).join(" ");
    console.log(`# "${PROMPT}" → page: "${words(result.words.map((w) => w.id))}", reference (mixture): "${words(expected)}" ` +
      `(top-1 / top-2 ${margins.map((m) => m.toFixed(2)).join(", ")}); the MLP alone: "${words(mlpOnly)}"`);
    assert.equal(result.mixture, true, "the page sampled from the client mixture");
    assert.notDeepEqual(expected, mlpOnly, "the mixture changes the greedy words here (else this would not test it)");
    assert.deepEqual(result.words.map((w) => w.id), expected);
    assert.deepEqual(shown, expected);
    assert.ok(result.words.every((w) => w.miner === miner.peerId));
    // Selection: the dead miner's health request fails (refused dial, before any key left the page), so it is tried
    // only after the live one, which serves each session of the request: no failover.
    assert.equal(result.failovers, 0);
    assert.ok(result.sessions >= 1 && result.sessionsOpened === result.sessions, `${result.sessionsOpened} opened for ${result.sessions} sessions`);
    assert.deepEqual(await page.$$eval("#failovers li", (lis) => lis.map((li) => li.getAttribute("data-unfit"))),
      new Array<string>(result.sessions).fill("UNREACHABLE"), "each session chooses its miner anew");
    assert.match((await page.textContent("#failovers"))!, new RegExp(deadPeerId.slice(-4)));
    // The browser rejects a refused WebSocket with a DOM Event: the user reads why, not "[object Event]".
    assert.doesNotMatch((await page.textContent("#failovers"))!, /\[object /);

    // What the miner got: a key upload per session of the shaped request, then one step per word and per padding
    // word (discarded by the page), each part a SEAL ciphertext in our envelope.
    const steps = received.filter((r) => r.kind === "step");
    assert.equal(received.filter((r) => r.kind === "keys").length, result.sessions);
    assert.equal(steps.length, WORDS + result.paddingWords);
    const cap = model.descriptor.caps.outputCiphertextBytes;
    for (const s of steps) {
      assert.equal(s.parts.length, 1);
      const body = unwrapSeal("ciphertext", s.parts[0]!, Math.max(cap, 4 * 2 ** 20), COMPR_ZSTD);
      assert.ok(body.byteLength > 100_000, `a seeded zstd ciphertext is ~200 KB, got ${body.byteLength}`);
    }
    // No plaintext: no request header carries anything but protocol fields, and no step part contains the bytes of
    // the embedding of any context word (the plaintext miner input) nor the prompt's text.
    const allowed = new Set(["v", "type", "planId", "sessionId", "seq", "parts"]); // parts: the byte length of each binary part
    for (const e of requests) for (const k of Object.keys(JSON.parse(e.headerJson ?? "{}") as object)) assert.ok(allowed.has(k), `header field ${k}`);
    const promptBytes = new TextEncoder().encode(PROMPT);
    const contextIds = [...model.client.encode(PROMPT), ...expected];
    const needles = [promptBytes, ...contextIds.map((id) => {
      const row = model.client.embeddings.subarray(id * model.client.embed, id * model.client.embed + 8);
      return new Uint8Array(row.buffer.slice(row.byteOffset, row.byteOffset + row.byteLength));
    })];
    for (const s of received) for (const part of s.parts) for (const needle of needles) {
      assert.equal(Buffer.from(part).indexOf(Buffer.from(needle)), -1, "plaintext bytes in what the miner received");
    }
    // Nothing of the model or the prompt went anywhere but the page's own origin (model files, RPC) and the miner.
    assert.ok(sent.every((u) => u.startsWith(base) || u.startsWith("data:")), `requests off-origin: ${sent.filter((u) => !u.startsWith(base)).join(" ")}`);
    // The one expected console error: Chromium reporting the dead miner's refused WebSocket.
    const refused = `WebSocket connection to 'ws://127.0.0.1:${deadPort}/' failed`;
    assert.deepEqual(problems.filter((p) => !p.startsWith(refused)), []);

    const m = {
      sealLoadMs: Math.round(result.sealLoadMs),
      keygenSetupMs: Math.round(result.keygen.setupMs), keygenEvalKeysMs: Math.round(result.keygen.keygenMs),
      keyBytes: result.keyBytes, keyUploadMs: Math.round(result.keyUploadMs),
      mixtureBuildMs: result.mixtureBuildMs === null ? null : Math.round(result.mixtureBuildMs),
      firstWordMs: Math.round(result.words[0]!.ms), msPerWordMedianAfterFirst: Math.round(result.perWord.steadyMedianMs),
      msPerWord: result.words.map((w) => Math.round(w.ms)), bytesUpPerWord: result.perWord.bytesUp, bytesDownPerWord: result.perWord.bytesDown,
    };
    console.log(`# browser generate: ${JSON.stringify(m)}`);
    writeFileSync(join(out, "metrics.json"), JSON.stringify(m, null, 2));
    await page.screenshot({ path: join(out, "generate.png") });
    if (process.env.DASHBOARD_DOCS_SCREENSHOT === "1") copyFileSync(join(out, "generate.png"), join(root, "docs", "dashboard-generate.png"));
    await page.close();
  });
});

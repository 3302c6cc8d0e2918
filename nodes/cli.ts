import "./core/polyfills.ts";
import { writeFileSync } from "node:fs";
import { Command, Option } from "commander";
import { CerberusError } from "./core/errors.ts";
import { CLI_DEFAULT_WORDS } from "./client/workload.ts";
import { CBR, DEFAULT_RPC_URL, bigintArg, chainFrom, floatArg, intArg, positiveIntArg, type ChainFlags } from "./cli/args.ts";
// FHE, ONNX, libp2p and the corpus are imported inside the commands that use them: a validator restarted late in an
// epoch must reach its reveal in a second or two, not after loading half of node_modules (seconds on a busy machine).
import { registerBrainCommands } from "./cli/brain.ts";
import { registerStakingCommands } from "./cli/staking.ts";

const program = new Command("cerberus")
  .description("Cerberus: private (CKKS-FHE) LM inference on a decentralized network of miners and validators")
  .addOption(new Option("--rpc <url>", "JSON-RPC endpoint").env("CERBERUS_RPC_URL").default(DEFAULT_RPC_URL))
  .addOption(new Option("--deployment <file>", "contract addresses written by the deploy script")
    .env("CERBERUS_DEPLOYMENT").default("deployments/localhost.json"))
  .addOption(new Option("--account <address>", "an account the node unlocks (e.g. `npx hardhat node`'s)").env("CERBERUS_ACCOUNT"))
  .addOption(new Option("--private-key <hex>", "sign locally with this key instead").env("CERBERUS_PRIVATE_KEY"))
  .addOption(new Option("--log-level <level>", "pino level").env("CERBERUS_LOG_LEVEL").default("info"))
  .hook("preAction", (cmd) => { process.env.CERBERUS_LOG_LEVEL = cmd.opts().logLevel; });
const g = () => program.opts<ChainFlags>();

registerBrainCommands(program, g);
registerStakingCommands(program, g);

// ── agents ──
program.command("miner").description("run a miner: serve encrypted inference for a Brain")
  .requiredOption("--brain <id>", "Brain id", bigintArg)
  .option("--listen <multiaddr...>", "libp2p listen addresses (default: TCP for agents and /ws for browsers, on 127.0.0.1)")
  .option("--model-dir <dir>", "model folder (checked against the Brain's hashes)", "models")
  .option("--data-dir <dir>", "identity folder (keeps the peer id across restarts)")
  .option("--threads <n>", "FHE evaluation worker threads (0 = main thread); with ≥ 2 a lone step is split over two", intArg, 2)
  .option("--max-sessions <n>", "open sessions held at once; each holds the user's evaluation keys in every worker " +
    "(≈ 24 MiB per worker for the Brown LM's plan) (default: what a quarter of this machine's memory holds, 4 to 64)", intArg)
  .option("--faulty-rate <p>", "FOR DEMOS/TESTS ONLY: answer this fraction of steps wrongly", floatArg, 0)
  .option("--cheat-users", "FOR DEMOS/TESTS ONLY: answer honestly only sessions that look like validator probes")
  .action(async (o) => {
    const { MinerAgent } = await import("./miner/agent.ts");
    const agent = await MinerAgent.start({ chain: chainFrom(g()), brainId: o.brain, listen: o.listen, modelDir: o.modelDir,
      threads: o.threads, faultyRate: o.faultyRate, cheatUsers: o.cheatUsers === true,
      ...(o.maxSessions !== undefined ? { service: { maxSessions: o.maxSessions } } : {}),
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}) });
    await untilSignal(() => agent.stop());
  });
program.command("validator").description("run a validator: challenge miners, commit/reveal weights, settle epochs")
  .requiredOption("--brain <id>", "Brain id", bigintArg)
  .option("--model-dir <dir>", "model folder", "models")
  .option("--data-dir <dir>", "state folder (pending reveals survive restarts)")
  .option("--challenges <n>", "probe requests per miner per epoch (started without pause, like users' requests)", intArg, 4)
  .option("--block-time-ms <ms>", "block time override (default: read from the chain's recent block timestamps)", intArg)
  .option("--poll-ms <ms>", "how often the reveal/settle loop looks at the chain head", intArg, 500)
  .option("--settle-steps <n>", "miner-steps per settle transaction (default: a whole epoch in one call)", bigintArg)
  .addOption(new Option("--workload <model>", "probe requests and session lengths: the user workload model, or its " +
    "time-compressed twin (short sessions, for demos and tests on small machines)").choices(["user", "compressed"]).default("user"))
  .action(async (o) => {
    const chain = chainFrom(g());
    // Reveals due first, with nothing loaded but the chain client and the state file.
    const { revealAtStartup } = await import("./validator/startup.ts");
    await revealAtStartup({ chain, brainId: o.brain, ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}) });
    const [{ ValidatorAgent }, { validationWords }, { USER_WORKLOAD, COMPRESSED_WORKLOAD }] = await Promise.all([
      import("./validator/agent.ts"), import("./validator/challenge.ts"), import("./client/workload.ts")]);
    const agent = await ValidatorAgent.start({ chain, brainId: o.brain, heldOut: validationWords(),
      workload: o.workload === "compressed" ? COMPRESSED_WORKLOAD : USER_WORKLOAD,
      modelDir: o.modelDir, challengesPerMiner: o.challenges,
      ...(o.blockTimeMs !== undefined ? { blockTimeMs: o.blockTimeMs } : {}), pollMs: Math.max(50, o.pollMs),
      ...(o.settleSteps !== undefined ? { settleStepsPerTx: o.settleSteps } : {}),
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}) });
    const running = agent.run();
    await untilSignal(() => agent.stop());
    await running;
  });
program.command("generate").description("generate text under encryption from a prompt (the text on stdout, progress on stderr)")
  .argument("<prompt>", "the prompt (stays on your machine; only ciphertexts leave it)")
  .requiredOption("--brain <id>", "Brain id", bigintArg)
  .option("--words <n>", "words to generate (at least 1)", positiveIntArg, CLI_DEFAULT_WORDS)
  .option("--temperature <t>", "softmax temperature (default: the model's shipped sampler, <name>.mixture.json)", floatArg)
  .option("--top-k <k>", "sample among the k likeliest words (default: the shipped sampler)", positiveIntArg)
  .option("--top-p <p>", "then among the likeliest words holding this share of the mass (default: the shipped sampler)", floatArg)
  .option("--seed <n>", "sampler seed", intArg)
  .option("--model-dir <dir>", "model folder", "models")
  .option("--no-mixture", "sample from the MLP alone, not the client mixture (<model-dir>/<name>.mixture.json)")
  .addOption(new Option("--workload <model>", "how the request is split into sessions: the user workload model, or the " +
    "time-compressed twin a local demo network's validators probe with (use the Brain's validators' choice)")
    .choices(["user", "compressed"]).default("user"))
  .action(async (prompt: string, o) => {
    if (prompt.trim() === "") throw new CerberusError("EMPTY_PROMPT", "the prompt is empty: give at least one word");
    if (o.temperature !== undefined && !(o.temperature > 0)) throw new CerberusError("BAD_FLAG", "--temperature must be > 0");
    const [{ loadPinnedModel, loadClientMixture }, { generate }, { rankMiners }, { createCerberusNode }, { detokenize },
      { USER_WORKLOAD, COMPRESSED_WORKLOAD }] = await Promise.all([
      import("./client/brain-model.ts"), import("./client/generate.ts"), import("./client/miners.ts"),
      import("./net/node.ts"), import("./model/vocab.ts"), import("./client/workload.ts")]);
    const chain = chainFrom(g(), false);
    const b = await chain.brain(o.brain);
    const model = loadPinnedModel(b, { dir: o.modelDir });
    const promptTokens = model.client.tokenize(prompt);
    if (promptTokens.length === 0) throw new CerberusError("EMPTY_PROMPT", "the prompt has no words: give at least one word");
    const mixed = o.mixture === false ? undefined : loadClientMixture(model, { dir: o.modelDir });
    process.stderr.write(mixed !== undefined
      ? `[client mixture: MLP + KN trigram + cache, built in ${(mixed.loadMs / 1000).toFixed(1)} s]\n`
      : "[no client mixture: sampling from the MLP alone]\n");
    const miners = rankMiners(b.miners);
    // stdout carries the text alone, written as it grows (detokenized for reading); everything else goes to stderr.
    const tokens = [...promptTokens];
    let written = detokenize(tokens);
    process.stdout.write(written);
    const live = process.stderr.isTTY === true;
    const status = (line: string) => { if (live) process.stderr.write(`\x1b7\x1b[999;1H\x1b[2K${line}\x1b8`); };
    const r = await generate({ model, miners, prompt, words: o.words, newNode: () => createCerberusNode({ listen: [] }),
      workload: o.workload === "compressed" ? COMPRESSED_WORKLOAD : USER_WORKLOAD,
      ...(o.temperature !== undefined ? { temperature: o.temperature } : {}), ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.topP !== undefined ? { topP: o.topP } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(mixed !== undefined ? { mixture: mixed.mixture } : {}),
      onWord: (w) => {
        tokens.push(w.word);
        const text = detokenize(tokens);
        process.stdout.write(text.slice(written.length));
        written = text;
        if (w.index + 1 === o.words) process.stdout.write("\n");
        status(`[${w.index + 1}/${o.words}] ${(1000 / w.ms).toFixed(2)} words/s`);
      },
      onSession: (s) => {
        if (s.padding > 0) status(`[session ${s.index + 1}: ${s.padding} of its ${s.steps} words are padding, discarded]`);
      },
      onFailover: (e) => process.stderr.write(`\n[failover: ${e.from.peerId.slice(-8)} ${e.error.code} → ${e.to?.peerId.slice(-8) ?? "none"}]\n`) });
    status("");
    const ms = r.words.map((w) => w.ms).sort((a, b2) => a - b2);
    process.stderr.write(`${r.words.length} words in ${r.sessions} session(s) (+${r.paddingWords} padding words so miners ` +
      `cannot see how many you asked for), median ${Math.round(ms[ms.length >> 1] ?? 0)} ms/word, ` +
      `${r.failovers} failover(s), ${(r.keyBytes / 2 ** 20).toFixed(1)} MiB of keys uploaded\n`);
  });
program.command("status").description("chain head, Brains' epochs and neuron scores")
  .addOption(new Option("--brain <id>", "Brain id").argParser(bigintArg).default(1n, "1"))
  .option("--until-settled <epoch>", "first wait until this epoch (or a later one) has settled", bigintArg)
  .action(async (o: { brain: bigint; untilSettled?: bigint }) => {
    const chain = chainFrom(g(), false);
    let b = await chain.brain(o.brain);
    if (o.untilSettled !== undefined) {
      const target = o.untilSettled;
      let said = "";
      while (b.lastSettledEpoch === null || b.lastSettledEpoch < target) {
        const line = `waiting for epoch ${target} to settle: block ${await chain.blockNumber()}, epoch ${b.currentEpoch}, ` +
          `last settled ${b.lastSettledEpoch ?? "none"}`;
        if (line !== said) process.stderr.write(process.stderr.isTTY ? `\r\x1b[2K${line}` : `${line}\n`);
        said = line;
        await new Promise((r) => setTimeout(r, 1_000));
        b = await chain.brain(o.brain);
      }
      if (process.stderr.isTTY && said !== "") process.stderr.write("\n");
    }
    console.log(`block ${await chain.blockNumber()}  Brain #${b.id} epoch ${b.currentEpoch} (tempo ${b.tempo}), ` +
      `last settled ${b.lastSettledEpoch ?? "none"}`);
    for (const m of b.miners) console.log(`  miner     ${m.uid}  incentive ${m.incentive.toFixed(4)}  ${m.peerId}`);
    for (const v of b.validators) console.log(`  validator ${v.uid}  dividends ${v.dividends.toFixed(4)}  stake ${v.stake / CBR} CBR`);
  });

// ── the whole network in one process ──
program.command("demo").description("npm start: in-process chain, 8 miners (2 honest, 1 faulty, 5 cheaters: users only, " +
  "epoch tail, a colluding pair, model mismatch), 2 validators, users, one settled epoch, then a client")
  .option("--prompt <text>", "prompt for the client", "the jury said")
  .option("--words <n>", "words to generate", intArg, 20)
  .option("--faulty-rate <p>", "the dishonest miner's wrong-answer rate", floatArg, 0.5)
  .option("--no-cheat-users", "leave out the fourth miner, which answers honestly only what it believes are validator probes")
  .option("--no-leak-cheaters", "leave out the tail cheater, the colluding pair and the model-mismatch cheater")
  .option("--challenges <n>", "probe requests per miner per validator", intArg, 4)
  .option("--user-sessions <n>", "simulated user sessions per miner (checked against the plaintext reference)", intArg, 2)
  .option("--epoch-window-s <s>", "wall time the epoch's traffic is spread over (the chain mines along)", intArg, 120)
  .option("--miner-threads <n>", "evaluation worker threads per miner", intArg, 1)
  .option("--model-dir <dir>", "model folder", "models")
  .option("--seed <n>", "seed of the sampler and the challenge picker", intArg, 7)
  .option("--json <file>", "also write the summary as JSON")
  .option("--serve [port]", "afterwards keep the chain up as JSON-RPC on 127.0.0.1 (default port 8545) for `npm run dashboard`")
  .action(async (o) => {
    if (process.env.CERBERUS_LOG_LEVEL === "info" && !process.argv.includes("--log-level")) process.env.CERBERUS_LOG_LEVEL = "warn";
    const [{ default: hre }, { deployCerberus }, { runDemo, printSummary }] = await Promise.all([
      import("hardhat"), import("../scripts/deploy.ts"), import("./demo/demo.ts")]);
    const summary = await runDemo(hre as never, () => deployCerberus(hre), {
      prompt: o.prompt, words: o.words, faultyRate: o.faultyRate, cheatUsers: o.cheatUsers !== false,
      leakCheaters: o.leakCheaters !== false, epochWindowMs: o.epochWindowS * 1000,
      challengesPerMiner: o.challenges, userSessionsPerMiner: o.userSessions,
      minerThreads: o.minerThreads, modelDir: o.modelDir, seed: o.seed,
    });
    printSummary(summary, (line) => console.log(line));
    if (o.json !== undefined) {
      writeFileSync(o.json, JSON.stringify(summary, null, 2) + "\n");
      console.log(`summary written to ${o.json}`);
    }
    if (o.serve !== undefined) {
      const { startRpcProxy } = await import("./chain/rpc-server.ts");
      const port = o.serve === true ? 8545 : intArg(String(o.serve));
      const rpc = await startRpcProxy(hre.network.provider, port);
      const deploymentsFile = "deployments/demo.json";
      writeFileSync(deploymentsFile, JSON.stringify(summary.deployment, null, 2) + "\n");
      console.log(`\nchain served at ${rpc.url}; deployments in ${deploymentsFile}. In another terminal:\n` +
        `  CERBERUS_RPC_URL=${rpc.url} CERBERUS_DEPLOYMENT=${deploymentsFile} npm run dashboard\nCtrl-C stops.`);
      await untilSignal(() => rpc.close());
    }
  });

/** Resolves after SIGINT/SIGTERM once `stop` finished: graceful shutdown for the long-running agents. */
function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let first: number | undefined;
    const onSignal = () => {
      // npm relays the signal a terminal (or a process-group kill) already sent: copies within 2 s are the same
      // request; a later one (a second Ctrl-C) stops at once. (The npm scripts run node --import tsx, not tsx's CLI:
      // that CLI SIGKILLs its child when a signal finds the child's event loop busy for 60 ms, as FHE work keeps it.)
      if (first !== undefined) {
        if (performance.now() - first > 2_000) process.exit(130);
        return;
      }
      first = performance.now();
      stop().then(resolve, (err) => { console.error(err); resolve(); });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof CerberusError) console.error(`error [${err.code}]: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);

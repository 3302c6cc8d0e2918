import { totalmem } from "node:os";
import { join } from "node:path";
import { loadPinnedModel, type BrainModel } from "../client/brain-model.ts";
import type { ChainClient } from "../chain/client.ts";
import { loadOrCreateIdentity } from "../net/identity.ts";
import { defaultAgentDir } from "../core/fs.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { MinerEvaluator, WorkerPoolEvaluator } from "../fhe/index.ts";
import { RoundEvaluator } from "../fhe/round-evaluator.ts";
import { RoundWorkerEvaluator } from "../fhe/round-worker.ts";
import type { MinerEvaluator as NetEvaluator } from "../net/evaluator.ts";
import { createCerberusNode, type CerberusNode, type NodeOptions } from "../net/node.ts";
import { FaultyEvaluator } from "./faulty.ts";
import { PeerIdDetector, PolicyCheater, SelectiveCheater, type CheatPolicy } from "./cheat.ts";
import { MinerService, type MinerServiceOptions } from "./service.ts";
import { sessionBudget } from "./session-budget.ts";

export interface MinerAgentOptions {
  chain: ChainClient;
  brainId: bigint;
  /** Folder of the Brain's model files (default "models"), checked against the on-chain hashes. */
  modelDir?: string;
  modelName?: string;
  /** Where the libp2p identity lives (default `defaultAgentDir("miner", hotkey)`: .cerberus/miner-<hotkey>). */
  dataDir?: string;
  /** libp2p listen addresses (default 127.0.0.1 on a random port). */
  listen?: string[];
  /**
   * Evaluate in this many worker threads (each holds its own encoded weights); 0 = on the main thread (default).
   * node-seal is single-threaded WASM, so threads are how a miner uses more than one core.
   */
  threads?: number;
  /** FOR DEMOS AND TESTS ONLY: fraction of steps answered with wrong outputs (see FaultyEvaluator). */
  faultyRate?: number;
  /**
   * FOR DEMOS AND TESTS ONLY: a selective cheater — honest only to sessions its probe detector calls a validator's,
   * wrong answers to everyone else (see cheat.ts).
   */
  cheatUsers?: boolean;
  /** FOR DEMOS AND TESTS ONLY: cheat whom this policy picks (the chain clock, a collusion ring, session shape; cheat.ts). */
  cheatPolicy?: CheatPolicy;
  /** Service limits; `maxSessions` defaults to what a quarter of the machine's memory holds keys for (session-budget.ts). */
  service?: Omit<MinerServiceOptions, "evaluator" | "logger" | "hotkey">;
  /** Connection limits of the libp2p node (per-address caps, upgrade timeout; defaults in createCerberusNode). */
  node?: Omit<NodeOptions, "listen" | "privateKey" | "dialFrom">;
  /** How often the agent checks that it still holds its seat (default 30 s). */
  seatCheckMs?: number;
  logger?: Logger;
}

/**
 * The miner: verifies the Brain's model against its on-chain hashes, compiles the FHE plan once (plaintext weights
 * encoded and cached), serves /cerberus/infer and /cerberus/health on libp2p, and registers (or, after a restart,
 * re-announces) its peer id and multiaddrs in the Brain. It never holds a secret key or sees plaintext.
 */
export class MinerAgent {
  private constructor(
    readonly node: CerberusNode,
    readonly service: MinerService,
    readonly evaluator: MinerEvaluator | WorkerPoolEvaluator | RoundEvaluator | RoundWorkerEvaluator,
    readonly faulty: FaultyEvaluator | undefined,
    readonly cheater: SelectiveCheater | undefined,
    readonly policyCheater: PolicyCheater | undefined,
    readonly model: BrainModel,
    readonly uid: number,
    private readonly log: Logger,
    private readonly chain: ChainClient,
    private readonly brainId: bigint,
  ) {}

  private seatTimer: NodeJS.Timeout | undefined;
  private seatHeld = true;

  /**
   * Watches the seat: a miner that was deregistered or pruned keeps serving whoever still dials it, but users and
   * validators find miners on-chain, so it will see no new sessions and earn nothing. The operator is told once
   * when the seat goes (and again if it comes back), not left with a silent log.
   */
  private watchSeat(everyMs: number): void {
    const check = async () => {
      let held: boolean;
      try {
        const seat = await this.chain.uidOf(this.brainId, this.chain.address);
        held = seat.registered && seat.role === "Miner" && seat.uid === this.uid;
      } catch (err) {
        this.log.debug({ err: String(err) }, "seat check failed; retrying later");
        return;
      }
      if (held === this.seatHeld) return;
      this.seatHeld = held;
      if (!held) {
        this.log.warn({ brainId: this.brainId.toString(), uid: this.uid, hotkey: this.chain.address },
          "seat gone: this hotkey no longer holds its miner seat (deregistered or pruned); no user or validator will " +
          "find this miner until it registers again (restart the miner)");
      } else {
        this.log.info({ brainId: this.brainId.toString(), uid: this.uid }, "seat held again");
      }
    };
    this.seatTimer = setInterval(() => void check(), everyMs);
    this.seatTimer.unref();
  }

  /** Whether the last seat check found the seat (true until a check says otherwise). */
  get holdsSeat(): boolean { return this.seatHeld; }

  static async start(options: MinerAgentOptions): Promise<MinerAgent> {
    const { chain, brainId } = options;
    const log = options.logger ?? createLogger("miner");
    const brain = await chain.brain(brainId);
    const model = loadPinnedModel(brain, { dir: options.modelDir, name: options.modelName });
    // A round plan (transformer): sessions keep their cache between rounds on the worker that holds them
    // (RoundWorkerEvaluator), or on the calling thread with threads = 0.
    const threads = options.threads ?? 0;
    const evaluator = model.kind === "transformer"
      ? threads > 0 ? await RoundWorkerEvaluator.create(model.onnxBytes, model.planOptions, { threads }) : await RoundEvaluator.create(model.onnxBytes, model.planOptions)
      : threads > 0 ? await WorkerPoolEvaluator.create(model.onnxBytes, model.planOptions, { threads })
        : await MinerEvaluator.create(model.onnxBytes, model.planOptions);
    const faultyRate = options.faultyRate ?? 0;
    const faulty = faultyRate > 0 ? new FaultyEvaluator(evaluator, { rate: faultyRate }) : undefined;
    const cheater = options.cheatUsers === true
      ? new SelectiveCheater(faulty ?? evaluator, new PeerIdDetector(async () =>
        (await chain.brain(brainId)).validators.map((v) => v.peerId)))
      : undefined;
    const policyCheater = options.cheatPolicy !== undefined ? new PolicyCheater(faulty ?? evaluator, options.cheatPolicy) : undefined;
    const served: NetEvaluator = cheater ?? policyCheater ?? faulty ?? evaluator;
    const dataDir = options.dataDir ?? defaultAgentDir("miner", chain.address);
    const node = await createCerberusNode({
      ...options.node,
      privateKey: (await loadOrCreateIdentity(join(dataDir, "identity.key"))).privateKey,
      ...(options.listen !== undefined ? { listen: options.listen } : {}),
    });
    const budget = sessionBudget(evaluator.descriptor.caps, threads, totalmem());
    const maxSessions = options.service?.maxSessions ?? budget.maxSessions;
    const service = new MinerService(node, { ...options.service, maxSessions, evaluator: served, hotkey: chain.address, logger: log });
    try {
      await service.start();
      const multiaddrs = node.getMultiaddrs().map((m) => m.decapsulateCode(421).toString());
      const uid = await chain.register(brainId, "Miner", { peerId: node.peerId.toString(), multiaddrs });
      log.info({ brainId: brainId.toString(), uid, peerId: node.peerId.toString(), multiaddrs, planId: evaluator.planId,
        faultyRate, cheatUsers: cheater !== undefined, cheatPolicy: options.cheatPolicy?.name, plaintextMB: +(evaluator.memory.plaintextBytes / 2 ** 20).toFixed(1),
        maxSessions, sessionKeysMB: +(budget.perSessionBytes / 2 ** 20).toFixed(1) }, "miner serving");
      const agent = new MinerAgent(node, service, evaluator, faulty, cheater, policyCheater, model, uid, log, chain, brainId);
      agent.watchSeat(options.seatCheckMs ?? 30_000);
      return agent;
    } catch (err) {
      await service.stop().catch(() => {});
      await Promise.resolve(node.stop()).catch(() => {});
      await evaluator.dispose();
      throw err;
    }
  }

  get peerId(): string { return this.node.peerId.toString(); }

  /** Graceful: stop taking requests, let libp2p close, free the cached plaintexts. */
  async stop(): Promise<void> {
    if (this.seatTimer !== undefined) clearInterval(this.seatTimer);
    await this.service.stop();
    await this.node.stop();
    await this.evaluator.dispose();
    this.log.info("miner stopped");
  }
}

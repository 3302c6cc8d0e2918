import type { EvalOptions, EvalSession, MinerEvaluator, SessionKeys, SessionPeer } from "../net/evaluator.ts";
import { defaultCorruption } from "./faulty.ts";

/**
 * FOR DEMOS AND TESTS ONLY — the miner agent's `--cheat-users`: a selective cheater that answers honestly only when
 * its probe detector says "validator" and returns wrong answers (built from real outputs, see faulty.ts) to
 * everyone else. It is the attack probes must defeat: it pays off exactly as far as a miner can tell probes from
 * users.
 */
export interface ProbeDetector {
  /** Whether a session opened by `peer` is (believed to be) a validator's probe. */
  isValidator(peer: SessionPeer): Promise<boolean>;
}

/**
 * The best discriminator the probe benchmark found against the old validators (bench/results/probes.json, "before"):
 * the peer id. A session is called a probe if it comes from a peer id registered as a validator in the Brain, or
 * from a peer id that has opened a session before (old validators probed from one identity, epoch after epoch; the
 * user workload model's sessions each come from a fresh identity).
 */
export class PeerIdDetector implements ProbeDetector {
  private validators = new Set<string>();
  private loadedAt = -Infinity;
  private readonly seen = new Set<string>();

  constructor(private readonly loadValidatorPeerIds: () => Promise<readonly string[]>, private readonly refreshMs = 5_000) {}

  async isValidator(peer: SessionPeer): Promise<boolean> {
    if (performance.now() - this.loadedAt > this.refreshMs) {
      this.validators = new Set(await this.loadValidatorPeerIds().catch(() => [...this.validators]));
      this.loadedAt = performance.now();
    }
    const repeat = this.seen.has(peer.peerId);
    this.seen.add(peer.peerId);
    return repeat || this.validators.has(peer.peerId);
  }
}

export interface CheatStats {
  /** Sessions the detector called probes (answered honestly) and users (cheated). */
  probeSessions: number;
  userSessions: number;
  honestSteps: number;
  cheatedSteps: number;
}

export class SelectiveCheater implements MinerEvaluator {
  readonly stats: CheatStats = { probeSessions: 0, userSessions: 0, honestSteps: 0, cheatedSteps: 0 };

  constructor(private readonly inner: MinerEvaluator, private readonly detector: ProbeDetector) {}

  get planId(): string { return this.inner.planId; }
  get parallelism(): number | undefined { return this.inner.parallelism; }

  async openSession(keys: SessionKeys, peer?: SessionPeer): Promise<EvalSession> {
    const honest = peer !== undefined && await this.detector.isValidator(peer);
    const session = await this.inner.openSession(keys, peer);
    if (honest) this.stats.probeSessions += 1;
    else this.stats.userSessions += 1;
    let previous: Uint8Array[] | undefined;
    return {
      evaluate: async (input: Uint8Array[], opts?: EvalOptions): Promise<Uint8Array[]> => {
        const outputs = await session.evaluate(input, opts);
        const reply = honest ? outputs : defaultCorruption(outputs, previous);
        if (honest) this.stats.honestSteps += 1;
        else this.stats.cheatedSteps += 1;
        previous = outputs;
        return reply;
      },
      close: () => session.close(),
    };
  }
}

/**
 * FOR DEMOS AND TESTS ONLY: a cheater that decides per session (at its open) and per step whom to cheat, by what a
 * miner can observe — the chain clock, what colluding seats saw, the session's shape. Each is the attack one of the
 * probe leaks allowed; each pays only as far as probes differ from users in what it looks at.
 */
export interface CheatPolicy {
  readonly name: string;
  /** Whether to cheat the session `peer` is opening (decided at the open, from what the miner can see then). */
  atOpen(peer: SessionPeer): Promise<boolean>;
  /** Whether to cheat step `index` of it, given the open's verdict; default: the open's verdict. */
  atStep?(cheatSession: boolean, index: number, peer: SessionPeer): boolean;
}

/**
 * Cheats sessions opened late in the epoch (block in epoch ≥ `fromShare` × tempo): where the validators' probes
 * used to stop before the commit deadline.
 */
export class TailPolicy implements CheatPolicy {
  readonly name = "tail";
  constructor(private readonly blockInEpoch: () => Promise<{ block: number; tempo: number }>, private readonly fromShare = 0.6) {}
  async atOpen(): Promise<boolean> {
    const { block, tempo } = await this.blockInEpoch();
    return block >= this.fromShare * tempo;
  }
}

/**
 * The seats of one operator, sharing what they see: the peers that asked each seat for health or opened a session
 * there. Feed it every request event of every seat (MinerService `onRequest`).
 */
export class CollusionRing {
  private readonly seen = new Map<string, Set<number>>();
  observe(seat: number, peerId: string): void {
    const s = this.seen.get(peerId) ?? new Set<number>();
    s.add(seat);
    this.seen.set(peerId, s);
  }
  seatsOf(peerId: string): ReadonlySet<number> {
    return this.seen.get(peerId) ?? new Set();
  }
}

/** Cheats a peer seen at another seat of the ring (it asked both for health: a user, when probes asked one). */
export class RingPolicy implements CheatPolicy {
  readonly name = "ring";
  constructor(private readonly ring: CollusionRing, private readonly seat: number) {}
  async atOpen(peer: SessionPeer): Promise<boolean> {
    return [...this.ring.seatsOf(peer.peerId)].some((s) => s !== this.seat);
  }
}

/**
 * Cheats what the old workload model never produced for probes: steps past `fromStep` (long sessions, such as the
 * CLI's default 20 words) and every session from a peer seen before (an app reusing its node).
 */
export class ShapePolicy implements CheatPolicy {
  readonly name = "shape";
  private readonly peers = new Set<string>();
  constructor(private readonly fromStep: number) {}
  async atOpen(peer: SessionPeer): Promise<boolean> {
    const repeat = this.peers.has(peer.peerId);
    this.peers.add(peer.peerId);
    return repeat;
  }
  atStep(cheatSession: boolean, index: number): boolean {
    return cheatSession || index >= this.fromStep;
  }
}

/** Serves honestly except where its policy says cheat (wrong but well-formed outputs, see faulty.ts). */
export class PolicyCheater implements MinerEvaluator {
  readonly stats = { sessions: 0, cheatedSessions: 0, honestSteps: 0, cheatedSteps: 0 };

  constructor(private readonly inner: MinerEvaluator, readonly policy: CheatPolicy) {}

  get planId(): string { return this.inner.planId; }
  get parallelism(): number | undefined { return this.inner.parallelism; }

  async openSession(keys: SessionKeys, peer?: SessionPeer): Promise<EvalSession> {
    const who = peer ?? { peerId: "", remoteAddr: "" };
    const cheat = await this.policy.atOpen(who);
    const session = await this.inner.openSession(keys, peer);
    this.stats.sessions += 1;
    if (cheat) this.stats.cheatedSessions += 1;
    let previous: Uint8Array[] | undefined;
    let index = 0;
    return {
      evaluate: async (input: Uint8Array[]): Promise<Uint8Array[]> => {
        const outputs = await session.evaluate(input);
        const wrong = this.policy.atStep !== undefined ? this.policy.atStep(cheat, index, who) : cheat;
        index += 1;
        if (wrong) this.stats.cheatedSteps += 1;
        else this.stats.honestSteps += 1;
        const reply = wrong ? defaultCorruption(outputs, previous) : outputs;
        previous = outputs;
        return reply;
      },
      close: () => session.close(),
    };
  }
}

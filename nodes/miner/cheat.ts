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

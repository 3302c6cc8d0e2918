import type { EvalOptions, EvalSession, MinerEvaluator, SessionKeys } from "../net/evaluator.ts";

/**
 * FOR DEMOS AND TESTS ONLY — this is the miner agent's `--faulty-rate p`: a dishonest miner that returns wrong
 * answers for a fraction p of steps, so validators have something to catch. It wraps a real evaluator; the wrong
 * answers are built from real outputs so they look like any other reply on the wire.
 */
export interface FaultyEvaluatorOptions {
  /** Fraction of steps whose outputs are corrupted, in [0, 1]. */
  rate: number;
  /** Random source in [0, 1) (default Math.random); inject a seeded one for reproducible tests. */
  random?: () => number;
  /**
   * How to corrupt a step's outputs (default: `defaultCorruption`). `previous` holds the session's previous honest
   * outputs, if any.
   */
  corrupt?: (outputs: Uint8Array[], previous: Uint8Array[] | undefined) => Uint8Array[];
  /** Round plans: only these rounds of a word are ever corrupted (default every round). */
  rounds?: readonly number[];
}

/**
 * The default cheat, in order of preference: with several outputs, rotate their order (each still decrypts, to the
 * wrong block of logits); else replay the session's previous answer (a stale result, the cheapest cheat); else flip
 * the bits of the last byte (the client's load/decrypt then fails or yields garbage).
 */
export function defaultCorruption(outputs: Uint8Array[], previous: Uint8Array[] | undefined): Uint8Array[] {
  if (outputs.length >= 2) return [...outputs.slice(1), outputs[0]!];
  if (previous !== undefined && previous.length === outputs.length) return previous;
  return outputs.map((o) => {
    const c = o.slice();
    c[c.length - 1] = c[c.length - 1]! ^ 0xff;
    return c;
  });
}

export class FaultyEvaluator implements MinerEvaluator {
  /** Steps corrupted / served so far (all sessions). */
  corrupted = 0;
  served = 0;
  private readonly random: () => number;
  private readonly corrupt: NonNullable<FaultyEvaluatorOptions["corrupt"]>;

  constructor(private readonly inner: MinerEvaluator, private readonly options: FaultyEvaluatorOptions) {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new RangeError(`faulty rate ${options.rate} not in [0, 1]`);
    this.random = options.random ?? Math.random;
    this.corrupt = options.corrupt ?? defaultCorruption;
  }

  get planId(): string { return this.inner.planId; }
  get parallelism(): number | undefined { return this.inner.parallelism; }

  async openSession(keys: SessionKeys): Promise<EvalSession> {
    const session = await this.inner.openSession(keys);
    let previous: Uint8Array[] | undefined;
    return {
      evaluate: async (input: Uint8Array[], opts?: EvalOptions): Promise<Uint8Array[]> => {
        const honest = await session.evaluate(input, opts);
        this.served += 1;
        const eligible = this.options.rounds === undefined || this.options.rounds.includes(opts?.round ?? 0);
        const cheat = eligible && this.random() < this.options.rate;
        const out = cheat ? this.corrupt(honest, previous) : honest;
        if (cheat) this.corrupted += 1;
        previous = honest;
        return out;
      },
      close: () => session.close(),
    };
  }
}

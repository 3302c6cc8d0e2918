import { createCerberusNode, type CerberusNode, type NodeOptions } from "../net/node.ts";

/**
 * Where a session's libp2p identity comes from, as the workload model says (workload.ts): a fresh node per session
 * (the CLI, the dashboard: each run creates its node), or — for a share of SDK-app sessions — a node an app keeps
 * for a geometric number of sessions (mean `meanSessions`). Validator probes and the benchmarks' simulated users take
 * their identities from here, so "peer seen before" is drawn alike for both.
 */
export class SessionIdentities {
  private readonly kept: { node: CerberusNode; left: number; busy: boolean }[] = [];

  constructor(private readonly options: { meanSessions: number; random?: () => number; node?: NodeOptions }) {}

  /**
   * An identity for one session; `release` when the session has ended (a kept node stays up for its next one).
   * `nodeOptions` apply to a node created now (a kept one keeps its own, e.g. its source address).
   */
  async take(reuse: boolean, nodeOptions: NodeOptions = {}): Promise<{ node: CerberusNode; release: () => Promise<void> }> {
    const random = this.options.random ?? Math.random;
    if (!reuse) {
      const node = await createCerberusNode({ ...this.options.node, ...nodeOptions, listen: [] });
      return { node, release: async () => { await node.stop(); } };
    }
    const idle = this.kept.filter((k) => !k.busy && k.left > 0);
    let entry = idle.length > 0 ? idle[Math.floor(random() * idle.length)]! : undefined;
    if (entry === undefined) {
      // Sessions of one app identity: 1 + Geometric, mean `meanSessions`.
      const p = 1 / Math.max(1, this.options.meanSessions);
      let n = 1;
      while (random() >= p && n < 1_000) n++;
      entry = { node: await createCerberusNode({ ...this.options.node, ...nodeOptions, listen: [] }), left: n, busy: false };
      this.kept.push(entry);
    }
    const e = entry;
    e.busy = true;
    e.left -= 1;
    return {
      node: e.node,
      release: async () => {
        e.busy = false;
        if (e.left <= 0) {
          this.kept.splice(this.kept.indexOf(e), 1);
          await e.node.stop();
        }
      },
    };
  }

  /** Stops every kept node. */
  async close(): Promise<void> {
    const all = this.kept.splice(0);
    await Promise.allSettled(all.map((k) => k.node.stop()));
  }
}

// One bench:load user: a fresh libp2p identity, `generate` over the miners (health-based choice), its words and costs.
import { generateSession, type GeneratedWord } from "../../nodes/client/generate.ts";
import type { BrainModel } from "../../nodes/client/brain-model.ts";
import { InferClient, type MinerAddress } from "../../nodes/client/transport.ts";
import { CerberusError } from "../../nodes/core/errors.ts";
import { AllMinersFailedError } from "../../nodes/net/errors.ts";
import { createCerberusNode } from "../../nodes/net/node.ts";
import { FheClient } from "../../nodes/fhe/client.ts";
import { RoundClient } from "../../nodes/fhe/round-client.ts";

/** What a user is asked to do (plain data: it crosses to the user's thread). */
export interface UserSession {
  miners: MinerAddress[];
  prompt: string;
  words: number;
  seed: number;
  /** Seed of the miner choice's randomness. */
  pickSeed: number;
}

export interface SessionOutcome {
  words: GeneratedWord[];
  keyBytes: number;
  busyWaits: number;
  busyWaitMs: number;
  failovers: number;
  firstMiner: string | undefined;
  /** Sessions the chosen miner stated in its health when the user chose it (undefined: chosen without health). */
  chosenStatedSessions: number | undefined;
  error?: string;
}

export async function oneSession(model: BrainModel, miners: MinerAddress[], prompt: string, words: number,
  seed: number, random: () => number): Promise<SessionOutcome> {
  const node = await createCerberusNode({ listen: [] });
  const got: GeneratedWord[] = [];
  let stated: number | undefined;
  try {
    const r = await generateSession({ model, infer: new InferClient(node), miners, prompt, words, seed, random,
      onWord: (w) => got.push(w),
      onSelect: (c) => {
        const h = c.order[0] === undefined ? undefined : c.health.get(c.order[0].peerId);
        stated = h === undefined || h instanceof CerberusError ? undefined : h.load.sessions;
      } });
    return { words: r.words, keyBytes: r.keyBytes, busyWaits: r.busyWaits, busyWaitMs: r.busyWaitMs, failovers: r.failovers,
      firstMiner: r.words[0]?.miner, chosenStatedSessions: stated };
  } catch (err) {
    const code = err instanceof AllMinersFailedError
      ? `ALL_MINERS_FAILED(${[...new Set(err.attempts.map((a) => a.code))].join("+")})`
      : err instanceof CerberusError ? err.code : `UNTYPED: ${String(err).slice(0, 80)}`;
    return { words: got, keyBytes: 0, busyWaits: 0, busyWaitMs: 0, failovers: 0, firstMiner: got[0]?.miner,
      chosenStatedSessions: stated, error: code };
  } finally {
    await node.stop();
  }
}

/**
 * What a user's machine has done before it asks for text: its FHE library loaded and compiled, one set of keys made
 * and thrown away. Without it a fresh thread's first word would carry the WebAssembly start-up, which the bench's
 * main thread had already paid in its warm-up.
 */
export async function warmClient(model: BrainModel): Promise<void> {
  const fhe = model.kind === "mlp" ? await FheClient.create(model.descriptor) : await RoundClient.create(model.plan, model.descriptor);
  try {
    fhe.keygen();
  } finally {
    fhe.dispose();
  }
}

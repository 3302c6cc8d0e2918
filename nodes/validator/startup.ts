import { join } from "node:path";
import type { Address } from "viem";
import type { ChainClient } from "../chain/client.ts";
import { defaultAgentDir } from "../core/fs.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { EpochDuties } from "./duties.ts";
import { ValidatorState } from "./state.ts";

/** The validator's state file: `<dataDir>/state.json`, default folder `defaultAgentDir("validator", hotkey)`. */
export function validatorStatePath(hotkey: Address, dataDir?: string): string {
  return join(dataDir ?? defaultAgentDir("validator", hotkey), "state.json");
}

/**
 * The first thing a (re)started validator does: reveal every saved commit whose reveal window is open, using only
 * the chain client and the state file — before the model, FHE, ONNX or libp2p are loaded, which can take many
 * seconds on a busy machine while the window (⌊tempo/2⌋ blocks) runs out. Errors are logged, not thrown: the
 * agent's duty loop retries. Returns the epochs revealed.
 */
export async function revealAtStartup(options: { chain: ChainClient; brainId: bigint; dataDir?: string; logger?: Logger;
  state?: ValidatorState }): Promise<bigint[]> {
  const { chain, brainId } = options;
  const log = options.logger ?? createLogger("validator");
  try {
    const state = options.state ?? ValidatorState.load(validatorStatePath(chain.address, options.dataDir));
    if (state.list(brainId, "pending").length === 0) return [];
    const seat = await chain.uidOf(brainId, chain.address);
    if (!seat.registered || seat.role !== "Validator") return [];
    const revealed = await new EpochDuties({ chain, brainId, uid: seat.uid, state, log }).revealDue();
    if (revealed.length > 0) log.info({ epochs: revealed.map(String) }, "revealed at start-up");
    return revealed;
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, "start-up reveal failed; the duty loop retries");
    return [];
  }
}

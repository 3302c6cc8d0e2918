/**
 * The seam between the network and the FHE engine (see /work/briefs/interfaces.md, "Miner evaluation"). The network
 * only moves opaque bytes; whoever implements these interfaces (nodes/fhe/) owns the CKKS work and the WASM objects.
 * A miner holds NO secret key: nothing here can carry one.
 */
export interface SessionKeys {
  /** sha256 hex of the model bytes + plan options the keys were generated for. */
  planId: string;
  /** Serialized SEAL GaloisKeys for exactly the plan's rotation steps. */
  galoisKeys: Uint8Array;
  /** Serialized SEAL RelinKeys. */
  relinKeys: Uint8Array;
}

/** Who opened a session, as the miner's transport knows it (an honest engine ignores it). */
export interface SessionPeer {
  peerId: string;
  remoteAddr: string;
}

export interface MinerEvaluator {
  /** sha256 hex (64 lowercase hex chars) of model bytes + plan options. */
  readonly planId: string;
  /** Evaluations it runs at once (FHE worker threads); the miner service queues beyond it. Default 1. */
  readonly parallelism?: number;
  /**
   * Loads and validates the keys; throws a CerberusError (e.g. code BAD_KEYS) if they are unusable. `peer` is
   * passed because a miner has it anyway; only the demo's selective cheater (miner/cheat.ts) looks at it.
   */
  openSession(keys: SessionKeys, peer?: SessionPeer): Promise<EvalSession>;
}

export interface EvalOptions {
  /** The round of the word (round plans: 0 … rounds − 1, in order); absent = 0. */
  round?: number;
}

export interface EvalSession {
  /**
   * Serialized ciphertexts in, serialized ciphertexts out. Bad input → CerberusError (e.g. BAD_CIPHERTEXT); a round
   * out of order → FHE_ROUND_ORDER.
   */
  evaluate(input: Uint8Array[], options?: EvalOptions): Promise<Uint8Array[]>;
  /** Frees the session's keys; called exactly once by the miner. */
  close(): void;
}

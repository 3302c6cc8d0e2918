import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { SplitAbortedError } from "./errors.ts";

/**
 * The channel two FHE workers use inside ONE split evaluation (worker-pool.ts, MinerEvaluator.runSplit). Both sides
 * run synchronous WASM loops, so a message cannot wait for the event loop: the sender posts on a MessagePort of the
 * pair, then bumps its counter in a shared Int32Array and notifies; the receiver polls the port with
 * `receiveMessageOnPort` and sleeps on the counter with `Atomics.wait` in between. Slot 2 is the abort flag the pool
 * raises when either side fails, so the other never waits out the timeout.
 */
export const SPLIT_SIGNAL_BYTES = 12;
const ABORT = 2;

export type SplitRole = "lead" | "help";

export interface SplitChannel {
  send(bytes: Uint8Array): void;
  receive(): Uint8Array;
}

export function abortSplit(signal: SharedArrayBuffer): void {
  const flags = new Int32Array(signal);
  Atomics.store(flags, ABORT, 1);
  Atomics.notify(flags, 0);
  Atomics.notify(flags, 1);
}

export function splitChannel(port: MessagePort, signal: SharedArrayBuffer, role: SplitRole, timeoutMs = 30_000): SplitChannel {
  const flags = new Int32Array(signal);
  const mine = role === "lead" ? 0 : 1;
  const theirs = 1 - mine;
  return {
    send(bytes: Uint8Array): void {
      port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
      Atomics.add(flags, mine, 1);
      Atomics.notify(flags, mine);
    },
    receive(): Uint8Array {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const seen = Atomics.load(flags, theirs);
        const m = receiveMessageOnPort(port);
        if (m !== undefined) return m.message as Uint8Array;
        if (Atomics.load(flags, ABORT) !== 0) throw new SplitAbortedError("the other half of the split step failed");
        const left = until - performance.now();
        if (left <= 0) throw new SplitAbortedError(`no message from the other half of the split step within ${timeoutMs} ms`);
        Atomics.wait(flags, theirs, seen, left);
      }
    },
  };
}

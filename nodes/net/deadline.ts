/**
 * An AbortSignal that fires after `ms`, with a timer we can clear. Why not AbortSignal.timeout: Node keeps that
 * timer ref'd while the signal has abort listeners, and libp2p leaves listeners on the signals it is given, so
 * finished requests would hold the process open until their timeouts run out.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  clear(): void;
}

export function deadline(ms: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, "TimeoutError")), ms);
  // Sockets keep a busy process alive; a pending timeout alone should not. (Browsers' timers are plain numbers.)
  (timer as { unref?: () => void }).unref?.();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

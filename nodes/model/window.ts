/**
 * The transformer's attention window as a session sees it (browser-safe). A session's encrypted key/value cache holds
 * at most `window` positions. Until the history is that long the model attends to all of it; after that, when the
 * next position would overflow the cache, the client starts a fresh cache holding the last window/2 positions (one
 * upload, see the transformer plan) and the window grows again. So position k of a history (0-based) attends to
 * positions windowStart(k) … k: always ≥ window/2 + 1 of them once k ≥ window/2, never more than `window`.
 * Training windows, bench:model's scoring and the client all use this one definition.
 */
export function windowStart(k: number, window: number): number {
  if (!Number.isInteger(window) || window < 2 || window % 2 !== 0) throw new RangeError(`window must be an even integer ≥ 2, got ${window}`);
  const half = window / 2;
  return k < window ? 0 : half * Math.floor((k - half) / half);
}

/**
 * Time limits that mean the same thing on any machine. A test that bounds how long something takes ("refused in
 * < 100 ms", "BUSY well before a step ends") states its limit as measured on an idle core of the reference 2-core VM,
 * and asserts against `scaled(limit)`: the limit times how much slower a fixed CPU workload runs here and now than
 * there. On an idle reference machine the factor is 1; with both cores busy it is 2–6. Limits never shrink below
 * their reference value.
 *
 *   const slow = slowdown();              // at the start of the test …
 *   …
 *   assert.ok(ms < scaled(100, slow));    // … and again at the assertion: the larger of the two counts
 *
 * This is for bounds that tell a fast path from a slow one (a refusal from an evaluation, headers from a 1 GiB
 * inflate). Throughput and latency targets are benchmarks (`npm run bench`), never tests.
 */

/** CPU time of one `workload()` on an idle core of the reference VM (process.cpuUsage, median of 21). */
export const REFERENCE_WORKLOAD_MS = 11;

function workload(): number {
  let x = 1;
  for (let i = 0; i < 400_000; i++) x = (x * 1103515245 + 12345) % 2147483647;
  return x;
}

/** How much slower than the reference a fixed CPU workload runs now (median of 7 runs; ≥ 1). Blocks ≈ 80 ms idle. */
export function slowdown(): number {
  workload(); // compiled before timing
  const ms: number[] = [];
  let sink = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    sink ^= workload();
    ms.push(performance.now() - t0);
  }
  if (sink === 0.5) console.log(sink); // keeps the loop from being optimized away
  ms.sort((a, b) => a - b);
  return Math.max(1, ms[ms.length >> 1]! / REFERENCE_WORKLOAD_MS);
}

/** `limitMs` (as on the idle reference machine) scaled by the larger of `earlier` and the slowdown measured now. */
export function scaled(limitMs: number, earlier = 1): number {
  return limitMs * Math.max(earlier, slowdown());
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { generationHistoryStarts } from "../../../nodes/model/regime.ts";
import { windowStart } from "../../../nodes/model/window.ts";
import { regimeSegments, regimeSequences } from "../../../nodes/train/transformer-trainer.ts";

test("windowStart: the whole history until the cache is full, then between window/2 + 1 and window positions", () => {
  for (let k = 0; k < 32; k++) assert.equal(windowStart(k, 32), 0);
  for (let k = 32; k < 500; k++) {
    const n = k - windowStart(k, 32) + 1;
    assert.ok(n >= 17 && n <= 32, `position ${k}: ${n} rows`);
    // A new window starts only when the previous one would overflow.
    if (windowStart(k, 32) !== windowStart(k - 1, 32)) assert.equal(k - windowStart(k - 1, 32), 32);
  }
  assert.throws(() => windowStart(3, 7), RangeError);
});

test("regime sequences: every predicted position scored exactly once, in the window its session holds", () => {
  const from = generationHistoryStarts(20_000);
  const seqs = regimeSequences(regimeSegments(from), 32);
  const seen = new Map<number, number>();
  for (const q of seqs) {
    assert.ok(q.count >= 1 && q.count <= 32);
    for (let t = 0; t < q.count; t++) {
      const target = q.start + t + 1;
      if (target < q.scoredFrom) continue;
      assert.equal(seen.has(target), false, `position ${target} scored twice`);
      // The session predicting `target` holds the history from[target] … target − 1; its window starts at:
      assert.equal(q.start, from[target]! + windowStart(target - 1 - from[target]!, 32));
      seen.set(target, q.count);
    }
  }
  for (let i = 0; i < from.length; i++) assert.equal(seen.has(i), from[i]! >= 0, `position ${i}`);
});

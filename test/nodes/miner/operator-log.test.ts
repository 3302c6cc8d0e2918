/**
 * What a miner's operator reads: one log line per session when it ends (peer, words, ms per word, bytes), and a
 * warning once the seat is gone. A real MinerAgent on Hardhat's in-process EVM, a real client over libp2p.
 */
import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Address } from "viem";
import { generateSession } from "../../../nodes/client/generate.ts";
import { rankMiners } from "../../../nodes/client/miners.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { createLogger, type Logger } from "../../../nodes/core/log.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
import { createCerberusNode } from "../../../nodes/net/node.ts";
import { tinyBrain } from "../network/fixtures.ts";

/** A pino logger whose JSON lines land in `lines`. */
function capture(): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger: Logger = pino<never>({ name: "miner", level: "info" }, sink);
  return { lines, logger };
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("the miner logs a line per session (peer, words, ms per word, bytes) and warns once its seat is gone", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-operator-"));
  const { lines, logger } = capture();
  let miner: MinerAgent | undefined;
  const node = await createCerberusNode({ listen: [] });
  try {
    const { model, accounts, as, owner, brainId } = await tinyBrain(dir, createLogger("test", "warn"));
    const minerAddr = accounts[1] as Address;
    miner = await MinerAgent.start({ chain: as(minerAddr), brainId, modelDir: dir, modelName: "tiny-lm",
      dataDir: join(dir, "miner"), logger, seatCheckMs: 100 });

    const brain = await owner.brain(brainId);
    const r = await generateSession({ model, infer: new InferClient(node), miners: rankMiners(brain.miners), prompt: "the jury said",
      words: 3, seed: 1 });
    assert.equal(r.words.length, 3);
    await until("the session's line", () => lines.some((l) => l.msg === "session ended"));
    const line = lines.find((l) => l.msg === "session ended")!;
    assert.equal(line.peerId, node.peerId.toString());
    assert.equal(line.why, "closed");
    assert.equal(line.words, 3);
    assert.ok(typeof line.msPerWord === "number" && line.msPerWord > 0, JSON.stringify(line));
    assert.ok((line.bytesIn as number) > 0 && (line.bytesOut as number) > 0 && (line.keyBytes as number) > 0, JSON.stringify(line));
    assert.equal(lines.filter((l) => l.msg?.toString().startsWith("seat gone")).length, 0, "no warning while the seat is held");

    await as(minerAddr).deregister(brainId);
    await until("the seat warning", () => lines.some((l) => String(l.msg).startsWith("seat gone")));
    const warning = lines.find((l) => String(l.msg).startsWith("seat gone"))!;
    assert.equal(warning.level, 40, "a warning");
    await new Promise((res) => setTimeout(res, 400));
    assert.equal(lines.filter((l) => String(l.msg).startsWith("seat gone")).length, 1, "said once, not every check");
    assert.equal(miner.holdsSeat, false);
  } finally {
    await miner?.stop();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

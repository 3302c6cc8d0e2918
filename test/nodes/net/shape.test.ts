import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InferClient, type MinerAddress } from "../../../nodes/client/transport.ts";
import { FailoverSession } from "../../../nodes/client/failover.ts";
import type { RequestEvent } from "../../../nodes/miner/service.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { startClientNode, startMiner, type TestMiner } from "./fixtures/harness.ts";
import { TestCkksClient, randomInput } from "./fixtures/seal-evaluator.ts";

/**
 * A validator's challenge must be indistinguishable on the wire from a user's request. Both go through the same
 * InferClient/FailoverSession code; this test runs a "user" and a "validator" (different libp2p identities,
 * different CKKS keys, different plaintexts: user text vs held-out challenge text) against one miner and compares
 * what the miner received, byte for byte where it can: the header JSON text with only the random session id masked,
 * the binary part sizes and the total wire bytes.
 */
async function session(node: CerberusNode, miner: MinerAddress, seeds: number[]): Promise<void> {
  const ckks = await TestCkksClient.create();
  try {
    const fo = new FailoverSession(new InferClient(node), [miner], ckks.sessionKeys({ compress: false }));
    for (const seed of seeds) {
      const x = randomInput(seed);
      const r = await fo.step([ckks.encrypt(x)]);
      assert.ok(ckks.check(x, r.outputs).rotErr < 1e-3);
    }
    await fo.close();
  } finally {
    ckks.delete();
  }
}

const SID = /"sessionId":"[0-9a-f]{32}"/g;
const masked = (e: RequestEvent) => ({
  outcome: e.outcome,
  headerJson: e.headerJson?.replace(SID, '"sessionId":"<sid>"'),
  partSizes: e.partSizes,
  wireBytes: e.wireBytes,
});

describe("challenge vs user traffic", () => {
  let miner: TestMiner;
  let userNode: CerberusNode;
  let validatorNode: CerberusNode;
  before(async () => {
    miner = await startMiner();
    userNode = await startClientNode();
    validatorNode = await startClientNode();
  });
  after(async () => {
    await userNode.stop();
    await validatorNode.stop();
    await miner.stop();
  });

  test("a validator challenge and a user request produce identical message shapes at the miner", async () => {
    await session(userNode, miner.address, [1, 2, 3]); // user's context windows
    const userEvents = miner.events.splice(0);
    await session(validatorNode, miner.address, [901, 902, 903]); // held-out challenge windows, fresh keys
    const validatorEvents = miner.events.splice(0);

    const peers = new Set([...userEvents, ...validatorEvents].map((e) => e.peerId));
    assert.equal(peers.size, 2, "two different identities");
    assert.deepEqual(userEvents.map((e) => e.outcome), ["opened", "result", "result", "result", "closed"]);
    assert.deepEqual(validatorEvents.map(masked), userEvents.map(masked));

    // and the headers carry nothing beyond the protocol's fields: no flag, no purpose, no client label
    const fieldsOf = (e: RequestEvent) => Object.keys(JSON.parse(e.headerJson!) as object).sort().join(",");
    assert.deepEqual([...new Set(userEvents.map(fieldsOf))].sort(), [
      "parts,planId,type,v", "parts,seq,sessionId,type,v", "parts,sessionId,type,v",
    ]);
    // the session ids differ (random per session), which is the only varying header field
    const sid = (e: RequestEvent) => (e.header as { sessionId?: string }).sessionId;
    assert.notEqual(sid(userEvents[1]!), sid(validatorEvents[1]!));
  });
});

import "../../../nodes/core/polyfills.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { FailoverSession } from "../../../nodes/client/failover.ts";
import { InferClient, seatAddress } from "../../../nodes/client/transport.ts";
import type { SessionKeys } from "../../../nodes/net/evaluator.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { startClientNode, startMiner, type TestMiner } from "./fixtures/harness.ts";
import { TestCkksClient, randomInput } from "./fixtures/seal-evaluator.ts";

const HOTKEY_A = "0x00000000000000000000000000000000000000aa";
const HOTKEY_B = "0x00000000000000000000000000000000000000bb";
const COPIER = "0x00000000000000000000000000000000000000cc";

let ckks: TestCkksClient;
let keys: SessionKeys;
let minerA: TestMiner;
let minerB: TestMiner;
let node: CerberusNode;

before(async () => {
  ckks = await TestCkksClient.create();
  keys = ckks.sessionKeys();
  minerA = await startMiner({ hotkey: HOTKEY_A.toUpperCase().replace("0X", "0x") }); // any case in, lowercase out
  minerB = await startMiner({ hotkey: HOTKEY_B });
  node = await startClientNode();
});
after(async () => {
  ckks.delete();
  await node.stop();
  await minerA.stop();
  await minerB.stop();
});

test("`opened` states the miner's hotkey; a seat whose peer id serves another hotkey is HOTKEY_MISMATCH, its session freed", async () => {
  const client = new InferClient(node);
  const own = await client.openSession(seatAddress({ ...minerA.address, hotkey: HOTKEY_A }), keys);
  assert.equal(own.hotkey, HOTKEY_A);
  const opened = minerA.events.find((e) => e.outcome === "opened");
  assert.ok(opened !== undefined);
  await own.close();

  // The copier's seat: A's peer id and addresses, the copier's hotkey.
  const copierSeat = seatAddress({ ...minerA.address, hotkey: COPIER });
  await assert.rejects(client.openSession(copierSeat, keys), (e: unknown) => isCerberusError(e, "HOTKEY_MISMATCH"));
  await new Promise((r) => setTimeout(r, 300)); // the best-effort close is in flight
  assert.equal(minerA.service.load.sessions, 0, "the client closed the session it will not use");
});

test("a user fails over from the copier's seat to the next miner and gets a correct answer", async () => {
  const client = new InferClient(node);
  const fo = new FailoverSession(client, [
    seatAddress({ ...minerA.address, hotkey: COPIER }),
    seatAddress({ ...minerB.address, hotkey: HOTKEY_B }),
  ], keys);
  const x = randomInput(7);
  const r = await fo.step([ckks.encrypt(x)]);
  assert.equal(r.miner.peerId, minerB.address.peerId);
  assert.deepEqual(fo.failures.map((f) => f.code), ["HOTKEY_MISMATCH"]);
  assert.ok(ckks.check(x, r.outputs).rotErr < 1e-3);
  await fo.close();
});

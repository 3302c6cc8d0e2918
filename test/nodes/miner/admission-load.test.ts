import { test } from "node:test";
import assert from "node:assert/strict";
import { Admission, type AdmissionLimits } from "../../../nodes/miner/admission.ts";
import { SessionTable } from "../../../nodes/miner/sessions.ts";
import { PROTOCOL_VERSION, type InferRequestHeader } from "../../../nodes/net/messages.ts";

const PLAN = "ab".repeat(32);
const LIMITS: AdmissionLimits = {
  maxSessions: 64, maxSessionsPerPeer: 4, maxSessionsPerAddress: 16, evictIdleMs: 60_000, maxInflight: 8,
  maxInflightPerPeer: 4, maxInflightPerAddress: 8, maxPendingPerPeer: 4, maxPendingPerAddress: 8, maxPendingBytes: 256 * 2 ** 20,
  workers: 2, maxQueueWaitMs: 10_000, stepMsHint: 500, recentStepWindow: 16,
};

// The bookkeeping of one open, step by step as the service drives it (service.ts): header, keys arrived, keys loaded
// in the evaluation FIFO, session placed. Users choose miners by the sessions health states (selection.ts); a session
// whose keys are loading is already one of them.
test("health counts a session whose keys are loading, not one whose header alone has arrived", async () => {
  const table = new SessionTable({ idleTtlMs: 60_000, maxLifetimeMs: 600_000 });
  const admission = new Admission(LIMITS, table, PLAN);
  const remote = { peerId: "peer-a", address: "127.0.0.1", remoteAddr: "/ip4/127.0.0.1/tcp/1" };
  const open: InferRequestHeader = { v: PROTOCOL_VERSION, type: "open", planId: PLAN, parts: [8 * 2 ** 20, 2 ** 20] };

  const arriving = admission.atHeader(remote, open, 9 * 2 ** 20);
  assert.equal(admission.load.sessions, 0, "a header costs nothing to send: it does not make the miner look busy");
  for (const r of arriving) r();
  const loading = admission.openArrived(remote);
  assert.equal(admission.load.sessions, 1, "keys arrived and loading: a user choosing now sees this session");

  let loaded!: () => void;
  const keysLoaded = admission.runOpen(() => new Promise<void>((r) => { loaded = r; }));
  await new Promise((r) => setImmediate(r));
  assert.equal(admission.load.sessions, 1);
  loaded();
  await keysLoaded;
  admission.placeSession(remote, { evaluate: async () => [], close: () => {} }, () => {});
  for (const r of loading) r();
  assert.equal(admission.load.sessions, 1, "placed: counted once");
});

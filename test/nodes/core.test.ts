import { test } from "node:test";
import assert from "node:assert/strict";
import "../../nodes/core/polyfills.ts";
import { CerberusError, errorMessage, isCerberusError } from "../../nodes/core/errors.ts";

test("Promise.withResolvers is available after the polyfill", async () => {
  const { promise, resolve } = Promise.withResolvers<number>();
  resolve(7);
  assert.equal(await promise, 7);
});

test("CerberusError carries a stable code and its subclass name", () => {
  class SessionUnknown extends CerberusError {}
  const err = new SessionUnknown("SESSION_UNKNOWN", "no such session");
  assert.equal(err.name, "SessionUnknown");
  assert.ok(isCerberusError(err, "SESSION_UNKNOWN"));
  assert.ok(!isCerberusError(err, "OTHER"));
  assert.ok(!isCerberusError(new Error("x")));
});

test("errorMessage: a DOM Event (a browser's failed WebSocket), an AggregateError and plain values read as words", () => {
  assert.equal(errorMessage(new Error("boom")), "boom");
  assert.equal(errorMessage(new Event("error")), 'connection failed ("error" event)');
  assert.equal(errorMessage({ type: "error", target: { url: "ws://127.0.0.1:9/" } }), 'connection failed ("error" event from ws://127.0.0.1:9/)');
  assert.equal(errorMessage(new AggregateError([new Error("a"), new Event("close")], "all dials failed")),
    'all dials failed: a; connection failed ("close" event)');
  assert.equal(errorMessage("plain"), "plain");
  assert.doesNotMatch(errorMessage(new Event("error")), /\[object/);
});

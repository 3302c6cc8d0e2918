import { test } from "node:test";
import assert from "node:assert/strict";
import "../../nodes/core/polyfills.ts";
import { CerberusError, isCerberusError } from "../../nodes/core/errors.ts";

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

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
// @ts-expect-error plain ESM helper script without types
import { renderAbis } from "../../../scripts/gen-abis.mjs";

test("nodes/chain/abis.ts matches the compiled contracts (run `npm run gen:abis` after changing a contract)", () => {
  assert.equal(readFileSync("nodes/chain/abis.ts", "utf8"), renderAbis("."));
});

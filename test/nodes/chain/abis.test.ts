import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
// @ts-expect-error plain ESM helper script without types
import { renderAbiFiles, renderAbis } from "../../../scripts/gen-abis.mjs";

test("nodes/chain/abis.ts and abi/*.json match the compiled contracts (run `npm run gen:abis` after changing a contract)", () => {
  assert.equal(readFileSync("nodes/chain/abis.ts", "utf8"), renderAbis("."));
  for (const [file, text] of Object.entries(renderAbiFiles(".") as Record<string, string>)) {
    assert.equal(readFileSync(`abi/${file}`, "utf8"), text, `abi/${file}`);
  }
});

test("the token's custom errors are in the ABI of every contract a token revert can bubble up through", () => {
  const staking = JSON.parse(readFileSync("abi/Staking.json", "utf8")) as { type: string; name: string }[];
  const errors = staking.filter((f) => f.type === "error").map((f) => f.name);
  for (const name of ["ERC20InsufficientBalance", "ERC20InsufficientAllowance", "SafeERC20FailedOperation"]) {
    assert.ok(errors.includes(name), `Staking ABI lacks ${name}`);
  }
});

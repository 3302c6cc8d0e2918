import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
// @ts-expect-error plain ESM helper script without types
import { renderAbiFiles, renderAbis } from "../../../scripts/gen-abis.mjs";

test("nodes/chain-artifacts/generated/abis.ts and abi/*.json match the compiled contracts (run `npm run gen:abis` after changing a contract)", () => {
  assert.equal(readFileSync("nodes/chain-artifacts/generated/abis.ts", "utf8"), renderAbis("."));
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

test("docs/PROTOCOL.md lists every view, write and custom error of the published ABIs", () => {
  const doc = readFileSync("docs/PROTOCOL.md", "utf8");
  const ref = doc.slice(doc.indexOf("## Contract reference"));
  const missing: string[] = [];
  for (const file of Object.keys(renderAbiFiles(".") as Record<string, string>)) {
    const abi = JSON.parse(readFileSync(`abi/${file}`, "utf8")) as { type: string; name?: string }[];
    const from = ref.indexOf(`### ${file.replace(".json", "")}\n`);
    const to = ref.indexOf("\n### ", from + 1);
    const section = ref.slice(from, to === -1 ? undefined : to);
    for (const f of abi) {
      if ((f.type === "function" || f.type === "error") && !section.includes(`\`${f.name}(`)) missing.push(`${file}: ${f.name}`);
    }
  }
  assert.deepEqual(missing, []);
});

/** Every deployed contract keeps at least 2 KiB of the 24,576-byte limit (EIP-170) free, so a fix always has room. */
import { expect } from "chai";
import hre from "hardhat";
import { CONTRACT_NAMES } from "../../scripts/deploy";

export const SIZE_LIMIT = 24_576;
export const SIZE_BUDGET = SIZE_LIMIT - 2_048;

describe("contract sizes", () => {
  it(`every deployed contract is at most ${SIZE_BUDGET.toLocaleString("en-US")} bytes (2 KiB under the limit)`, async () => {
    const sizes: [string, number][] = [];
    for (const name of [...CONTRACT_NAMES, "SettlementLib"]) {
      const a = await hre.artifacts.readArtifact(name);
      sizes.push([name, (a.deployedBytecode.length - 2) / 2]);
    }
    console.log(`      ${sizes.map(([n, b]) => `${n} ${b.toLocaleString("en-US")}`).join(", ")}`);
    for (const [name, bytes] of sizes) expect(bytes, name).to.be.at.most(SIZE_BUDGET);
  });
});

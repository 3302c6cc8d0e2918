import { HardhatUserConfig, subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";

const SOLC_VERSION = "0.8.30";

// Hardhat downloads solc at compile time; these machines reach only the npm registry, so we compile with the
// solcjs build from the pinned npm `solc` package instead (see ../shared/STACK.md).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc");
  const npmVersion: string = solc.version().replace(/\+commit.*$/, "");
  if (args.solcVersion !== SOLC_VERSION || npmVersion !== SOLC_VERSION) {
    throw new Error(
      `solc mismatch: config wants ${args.solcVersion}, npm solc is ${npmVersion}; pin both to ${SOLC_VERSION}`,
    );
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version().replace(/\.Emscripten.*$/, ""),
  };
});

const rpcUrl = process.env.CERBERUS_RPC_URL;
const deployerKey = process.env.CERBERUS_DEPLOYER_KEY;

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", viaIR: false },
  },
  networks: {
    hardhat: {
      // Settlement of 256 miners × 32 validators runs in chunks; keep the default 30M block gas limit.
      allowUnlimitedContractSize: false,
      // `CERBERUS_BLOCK_TIME_MS=1000 npx hardhat node` also mines a block every second, so epochs advance on an
      // idle chain the way they do on a live one (tests and the demo mine explicitly and leave it unset).
      mining: { auto: true, interval: Number(process.env.CERBERUS_BLOCK_TIME_MS ?? 0) },
    },
    localhost: { url: "http://127.0.0.1:8545" },
    ...(rpcUrl
      ? { custom: { url: rpcUrl, accounts: deployerKey ? [deployerKey] : [] } }
      : {}),
  },
  paths: { tests: "./test/contracts" },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  // Spec output plus a per-file time table at the end (scripts/mocha-file-times.cjs).
  mocha: { timeout: 600_000, reporter: "./scripts/mocha-file-times.cjs" },
  gasReporter: { enabled: process.env.REPORT_GAS === "1" },
};

export default config;

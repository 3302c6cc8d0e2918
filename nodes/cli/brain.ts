/** `cerberus brain create|show` and `cerberus deregister`: Brains and seats. */
import { Option, type Command } from "commander";
import { CBR, bigintArg, cbrLimitArg, chainFrom, intArg, jsonBig, type Globals } from "./args.ts";

export function registerBrainCommands(program: Command, g: Globals): void {
  const brain = program.command("brain").description("mint and inspect Brains (model-hosting subnets)");
  brain.command("create")
    .description("mint a Brain pinned to a model folder's ONNX (modelHash) and FHE plan (fheParamsHash); burns the fee")
    .option("--model-dir <dir>", "model folder", "models")
    .option("--model-name <name>", "model base name", "brown-lm")
    .option("--tempo <blocks>", "blocks per epoch", intArg, 100)
    .option("--max-miners <n>", "1..256", intArg, 64)
    .option("--max-validators <n>", "1..32", intArg, 8)
    // bigint defaults carry a display string: commander's help would JSON.stringify them and crash.
    .addOption(new Option("--min-miner-stake <cbr>", "stake a miner hotkey needs").argParser(cbrLimitArg).default(0n, "0"))
    .addOption(new Option("--min-validator-stake <cbr>", "stake a validator hotkey needs").argParser(cbrLimitArg)
      .default(1_000n * CBR, "1000"))
    .option("--immunity <blocks>", "blocks before a new neuron can be pruned", intArg, 200)
    .action(async (o) => {
      const { loadBrainModel } = await import("../client/brain-model.ts");
      const model = loadBrainModel({ dir: o.modelDir, name: o.modelName });
      const id = await chainFrom(g()).mintBrain({
        modelHash: model.modelHash, fheParamsHash: model.planHash, uri: `${o.modelDir}/${o.modelName}.onnx`, tempo: o.tempo,
        limits: { maxMiners: o.maxMiners, maxValidators: o.maxValidators, minMinerStake: o.minMinerStake,
          minValidatorStake: o.minValidatorStake, immunityPeriod: o.immunity },
      });
      console.log(`Brain #${id} minted (modelHash ${model.modelHash}, fheParamsHash ${model.planHash})`);
    });
  brain.command("show").argument("<brainId>", "Brain id", bigintArg).description("a Brain's metadata and neurons")
    .action(async (id: bigint) => console.log(JSON.stringify(await chainFrom(g(), false).brain(id), jsonBig, 2)));
  program.command("deregister").description("free your seat (miner or validator) in a Brain; a miner's unclaimed incentive " +
    "moves to `claim-removed`")
    .requiredOption("--brain <id>", "Brain id", bigintArg)
    .action(async (o: { brain: bigint }) => { await chainFrom(g()).deregister(o.brain); console.log("deregistered"); });
}

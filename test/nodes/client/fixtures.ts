import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBrainModel, mlpModel } from "../../../nodes/client/brain-model.ts";
import { MinerEvaluator } from "../../../nodes/fhe/index.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";
import { startMiner, type TestMiner } from "../net/fixtures/harness.ts";

/** A 300-word tiny LM written to a temporary folder and a real miner serving it (real SEAL, real libp2p). */
export interface TinyLmMiner {
  dir: string;
  miner: TestMiner;
  stop(): Promise<void>;
}

export async function startTinyLmMiner(prefix: string): Promise<TinyLmMiner> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { vocab } = loadBrownSplits({ maxWords: 20_000 });
  writeTinyLm(dir, { words: vocab.words.slice(0, 300), name: "tiny-lm" });
  const model = loadBrainModel({ dir, name: "tiny-lm" });
  const evaluator = await MinerEvaluator.create(model.onnxBytes, mlpModel(model).planOptions);
  const miner = await startMiner({ evaluator });
  return {
    dir, miner,
    async stop() {
      await miner.stop();
      await evaluator.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { initParams } from "./mlp.ts";
import { exportMinerOnnx, toMinerModel } from "./onnx-export.ts";
import { writeClientModel } from "../model/lm.ts";
import { createRng } from "../core/prng.ts";

export interface TinyLmOptions {
  /** Vocabulary in id order; id 0 must be the unknown symbol "<unk>". */
  words: readonly string[];
  n?: number;
  embed?: number;
  hidden?: number;
  seed?: number;
  name?: string;
}

/**
 * Writes an untrained LM of the same format as the shipped one (miner ONNX + client files) but small, so that
 * integration tests exercise the whole path — chain hashes, FHE plan, libp2p, validator scoring — in seconds.
 * Random weights: its predictions are meaningless, but encrypted and plaintext runs must still agree.
 */
export function writeTinyLm(dir: string, options: TinyLmOptions): { onnx: string; client: string } {
  const n = options.n ?? 3;
  const embed = options.embed ?? 8;
  const hidden = options.hidden ?? 16;
  const name = options.name ?? "tiny-lm";
  if (options.words[0] !== "<unk>") throw new Error('words[0] must be "<unk>"');
  const rng = createRng(options.seed ?? 1);
  const params = initParams({ vocab: options.words.length, n, embed, hidden }, rng);
  for (let i = 0; i < params.b1.length; i++) params.b1[i] = (rng.next() * 2 - 1) * 0.1;
  // c2 ≠ 0 as in the shipped model (the FHE fold needs it); a mild quadratic keeps logits in a sane range.
  const miner = toMinerModel(params, [0.05, 0.5, 0.25]);
  mkdirSync(dir, { recursive: true });
  const onnx = join(dir, `${name}.onnx`);
  writeFileSync(onnx, exportMinerOnnx(miner));
  const client = join(dir, `${name}.client.json`);
  writeClientModel(client, options.words, n, embed, miner.vPad, params.C, false);
  return { onnx, client };
}

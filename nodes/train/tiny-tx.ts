import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../core/prng.ts";
import { paddedVocab } from "../model/miner-model.ts";
import { exportTransformerOnnx, writeTransformerClient } from "./transformer-export.ts";
import { initTransformer, tensor, toFheForm } from "./transformer.ts";

export interface TinyTxOptions {
  /** Vocabulary in id order; id 0 must be "<unk>". */
  words: readonly string[];
  name?: string;
  seed?: number;
  /** Round plan options shipped in <name>.plan.json (default: the shipped transformer's, 3 rounds on n8192-l3s). */
  plan?: { params: string | null; cuts: string[] };
}

/**
 * Writes an untrained transformer of the shipped format (miner ONNX with its graph contract, client files, plan
 * options) but small — width 32, window 8, FFN 32 — so that integration tests run the whole round protocol (chain
 * hashes, the round plan, libp2p, the miner's cache, validator checks of every round) in seconds. Random weights.
 */
export function writeTinyTransformer(dir: string, options: TinyTxOptions): { onnx: string; client: string; plan: string } {
  const name = options.name ?? "tiny-tx";
  if (options.words[0] !== "<unk>") throw new Error('words[0] must be "<unk>"');
  const rng = createRng(options.seed ?? 7);
  const shape = { vocab: options.words.length, embed: 8, shift: 4, ff: 32, window: 8 };
  const p = toFheForm(initTransformer(shape, rng), 0.9, 1.1, [0.05, 0.6, 0.25]);
  for (const k of ["rel", "bo", "b1", "b2", "bU"] as const) { const v = tensor(p, k); for (let i = 0; i < v.length; i++) v[i] = v[i]! + (rng.next() - 0.5) * 0.4; }
  mkdirSync(dir, { recursive: true });
  const onnx = join(dir, `${name}.onnx`);
  const vPad = paddedVocab(shape.vocab);
  writeFileSync(onnx, exportTransformerOnnx(p, vPad));
  const client = join(dir, `${name}.client.json`);
  writeTransformerClient(client, options.words, p, vPad, false);
  const plan = join(dir, `${name}.plan.json`);
  writeFileSync(plan, JSON.stringify({ format: "cerberus-round-plan/1", options: options.plan ?? { params: "n8192-l3s", cuts: ["h"] }, why: "test model" }) + "\n");
  return { onnx, client, plan };
}

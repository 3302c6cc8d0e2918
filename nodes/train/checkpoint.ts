import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import type { Activation, MlpParams } from "./mlp.ts";
import { ModelFileError } from "../model/lm.ts";

/**
 * Training checkpoints: every stage goes to models/checkpoints/ (git-ignored), and the float twin of the shipped model
 * is also written as models/<name>.float.{json,bin} and committed, so `bench:model` measures the float and naive rows
 * from the repository. Format: <path>.json header + <path>.bin (C, W1, b1, W2, b2 float32-le).
 */
const Header = z.object({
  shape: z.object({ vocab: z.number().int(), n: z.number().int(), embed: z.number().int(), hidden: z.number().int() }),
  act: z.union([z.object({ kind: z.literal("tanh") }), z.object({ kind: z.literal("poly"), c: z.tuple([z.number(), z.number(), z.number()]) })]),
  lengths: z.array(z.number().int()).length(5),
});

export function saveCheckpoint(path: string, p: MlpParams, act: Activation): void {
  mkdirSync(dirname(path), { recursive: true });
  const parts = [p.C, p.W1, p.b1, p.W2, p.b2];
  writeFileSync(`${path}.json`, JSON.stringify({ shape: p.shape, act, lengths: parts.map((a) => a.length) }));
  writeFileSync(`${path}.bin`, Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
}

export function loadCheckpoint(path: string): { params: MlpParams; act: Activation } {
  let h: z.infer<typeof Header>;
  try { h = Header.parse(JSON.parse(readFileSync(`${path}.json`, "utf8"))); } catch (e) {
    throw new ModelFileError("CHECKPOINT_INVALID", `cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  const buf = readFileSync(`${path}.bin`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (all.length !== h.lengths.reduce((a, b) => a + b, 0)) throw new ModelFileError("CHECKPOINT_INVALID", `checkpoint ${path} has the wrong size`);
  let off = 0;
  const take = (n: number) => { const a = all.slice(off, off + n); off += n; return a; };
  const [C, W1, b1, W2, b2] = h.lengths.map(take);
  const act: Activation = h.act.kind === "tanh" ? { kind: "tanh" } : { kind: "poly", c: h.act.c };
  return { params: { shape: h.shape, C, W1, b1, W2, b2 }, act };
}

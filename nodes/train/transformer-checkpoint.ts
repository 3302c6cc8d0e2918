import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { ModelFileError } from "../model/client-model.ts";
import { tensorShapes, tensorsOf, type TransformerParams, type TransformerTensor } from "./transformer.ts";

/** Transformer checkpoints: <path>.json (shape, form, tensor order and lengths) + <path>.bin (float32-le, in that order). */
const Header = z.object({
  format: z.literal("cerberus-tx-checkpoint/1"),
  form: z.enum(["float", "fhe"]),
  shape: z.object({ vocab: z.number().int().min(2), embed: z.number().int().min(1), shift: z.number().int().min(1), ff: z.number().int().min(1), window: z.number().int().min(2) }),
  tensors: z.array(z.tuple([z.string(), z.number().int().min(1)])),
});

export function saveTransformerCheckpoint(path: string, p: TransformerParams): { json: Uint8Array; bin: Uint8Array } {
  mkdirSync(dirname(path), { recursive: true });
  const names = tensorsOf(p.form);
  const parts = names.map((k) => p.t[k]!);
  const json = new TextEncoder().encode(JSON.stringify({ format: "cerberus-tx-checkpoint/1", form: p.form, shape: p.shape, tensors: names.map((k, i) => [k, parts[i]!.length]) }) + "\n");
  const bin = new Uint8Array(Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  writeFileSync(`${path}.json`, json);
  writeFileSync(`${path}.bin`, bin);
  return { json, bin };
}

export function loadTransformerCheckpoint(path: string): TransformerParams {
  let h: z.infer<typeof Header>;
  try { h = Header.parse(JSON.parse(readFileSync(`${path}.json`, "utf8"))); } catch (e) {
    throw new ModelFileError("CHECKPOINT_INVALID", `cannot read transformer checkpoint ${path}: ${(e as Error).message}`);
  }
  const shapes = tensorShapes(h.shape);
  const expected = tensorsOf(h.form);
  if (h.tensors.length !== expected.length || h.tensors.some(([k, n], i) => k !== expected[i] || n !== shapes[k as TransformerTensor].reduce((a, b) => a * b, 1))) {
    throw new ModelFileError("CHECKPOINT_INVALID", `transformer checkpoint ${path}: tensors do not match the ${h.form} form of its shape`);
  }
  const buf = readFileSync(`${path}.bin`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  if (all.length !== h.tensors.reduce((a, [, n]) => a + n, 0)) throw new ModelFileError("CHECKPOINT_INVALID", `transformer checkpoint ${path} has the wrong size`);
  const t: Partial<Record<TransformerTensor, Float32Array>> = {};
  let off = 0;
  for (const [k, n] of h.tensors) { t[k as TransformerTensor] = all.slice(off, off + n); off += n; }
  return { shape: h.shape, form: h.form, t };
}

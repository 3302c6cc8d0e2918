import { readFileSync } from "node:fs";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";
import type { MinerScore } from "./scoring.ts";

const Score = z.object({
  uid: z.number().int().min(0).max(65_535), challenges: z.number().int().min(0), answered: z.number().int().min(0),
  correct: z.number().int().min(0), medianMs: z.number().min(0), wrong: z.number().int().min(0),
  accuracy: z.number().min(0).max(1), latencyFactor: z.number().min(0).max(1), score: z.number().min(0).max(1),
});
const MemorySchema = z.object({
  version: z.literal(1),
  /** Last score per miner seat key (hotkey), and how many windows ago it was measured. */
  last: z.array(z.object({ key: z.string().max(200), score: Score, age: z.number().int().min(0) })),
  /** Windows a miner seat key stays at 0 after a wrong answer. */
  penalties: z.array(z.object({ key: z.string().max(200), windows: z.number().int().min(0) })),
});

/**
 * What a validator remembers about miners from one rolling window to the next — each miner's last score (a miner no
 * probe reached keeps it for a few windows) and the windows left of a wrong-answer penalty — kept in a file beside
 * the state file, so a restart neither starts from nothing (an empty first window would commit nothing) nor forgives.
 */
export class ScoreMemory {
  readonly last = new Map<string, { score: MinerScore; age: number }>();
  readonly penalties = new Map<string, number>();

  private constructor(private readonly path: string | undefined) {}

  static load(path: string | undefined): ScoreMemory {
    const m = new ScoreMemory(path);
    if (path === undefined) return m;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return m;
      throw err;
    }
    let parsed: z.infer<typeof MemorySchema>;
    try {
      parsed = MemorySchema.parse(JSON.parse(text));
    } catch (err) {
      throw new CerberusError("BAD_STATE", `${path}: ${(err as Error).message.slice(0, 300)}`);
    }
    for (const l of parsed.last) m.last.set(l.key, { score: l.score, age: l.age });
    for (const p of parsed.penalties) m.penalties.set(p.key, p.windows);
    return m;
  }

  save(): void {
    if (this.path === undefined) return;
    writeFileAtomic(this.path, JSON.stringify({
      version: 1,
      last: [...this.last].map(([key, v]) => ({ key, score: v.score, age: v.age })),
      penalties: [...this.penalties].filter(([, w]) => w > 0).map(([key, windows]) => ({ key, windows })),
    }) + "\n", 0o600);
  }
}

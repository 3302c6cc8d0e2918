import { readFileSync } from "node:fs";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";

const Hex32 = z.string().regex(/^0x[0-9a-f]{64}$/i).transform((s) => s as `0x${string}`);

/** A commit the validator still owes a reveal for: everything needed to reveal after a restart. */
export const PendingRevealSchema = z.object({
  brainId: z.string().regex(/^\d+$/),
  epoch: z.string().regex(/^\d+$/),
  uids: z.array(z.number().int().min(0).max(65_535)),
  weights: z.array(z.number().int().min(0).max(65_535)),
  salt: Hex32,
  hash: Hex32,
  revealed: z.boolean(),
});
export type PendingReveal = z.infer<typeof PendingRevealSchema>;

const StateSchema = z.object({ version: z.literal(1), pending: z.array(PendingRevealSchema) });

/**
 * The validator's durable memory: salts and weights of commits not yet revealed. Written (atomically) BEFORE the
 * commit transaction is sent, so a crash between commit and reveal never loses the salt.
 */
export class ValidatorState {
  private pending: PendingReveal[];

  private constructor(private readonly path: string, pending: PendingReveal[]) {
    this.pending = pending;
  }

  static load(path: string): ValidatorState {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new ValidatorState(path, []);
      throw err;
    }
    const parsed = StateSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new CerberusError("BAD_STATE", `${path}: ${parsed.error.message}`);
    return new ValidatorState(path, parsed.data.pending);
  }

  get unrevealed(): readonly PendingReveal[] {
    return this.pending.filter((p) => !p.revealed);
  }

  find(brainId: bigint, epoch: bigint): PendingReveal | undefined {
    return this.pending.find((p) => p.brainId === brainId.toString() && p.epoch === epoch.toString());
  }

  record(entry: PendingReveal): void {
    this.pending = [...this.pending.filter((p) => !(p.brainId === entry.brainId && p.epoch === entry.epoch)), entry];
    this.save();
  }

  markRevealed(brainId: bigint, epoch: bigint): void {
    const entry = this.find(brainId, epoch);
    if (entry === undefined) return;
    entry.revealed = true;
    // Keep only a short history: revealed entries older than the last few epochs are of no further use.
    this.pending = this.pending.filter((p) => !p.revealed || BigInt(p.epoch) + 4n > epoch);
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.path, JSON.stringify({ version: 1, pending: this.pending }, null, 2) + "\n", 0o600);
  }
}

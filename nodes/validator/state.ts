import { readFileSync } from "node:fs";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { writeFileAtomic } from "../core/fs.ts";

const Hex32 = z.string().regex(/^0x[0-9a-f]{64}$/i).transform((s) => s as `0x${string}`);
const Uint = z.string().regex(/^\d+$/);

/**
 * Where one commit stands:
 *  - `pending`: salt saved, commit sent (or about to be, or lost in a crash); reveal owed once the window opens;
 *  - `revealed`: the reveal is on-chain; the epoch must still be settled (by us or anyone);
 *  - `settled`: the epoch's EpochSettled is on-chain (kept a few epochs as history);
 *  - `lost`: nothing more can be done (window passed, commit never landed, a later epoch settled first); `note`
 *    says why, and the agent logged it at error level when it happened.
 */
export const CommitStatus = z.enum(["pending", "revealed", "settled", "lost"]);
export type CommitStatus = z.infer<typeof CommitStatus>;

/** One commit the validator made: everything needed to reveal and settle it after a restart. */
export const CommitRecordSchema = z.object({
  brainId: Uint,
  epoch: Uint,
  /** The validator's seat when it committed (the chain keys commits by seat). */
  uid: z.number().int().min(0).max(65_535).optional(),
  uids: z.array(z.number().int().min(0).max(65_535)),
  weights: z.array(z.number().int().min(0).max(65_535)),
  salt: Hex32,
  hash: Hex32,
  status: CommitStatus,
  note: z.string().max(500).optional(),
});
export type CommitRecord = z.infer<typeof CommitRecordSchema>;

const V1Schema = z.object({
  version: z.literal(1),
  pending: z.array(CommitRecordSchema.omit({ status: true, uid: true, note: true }).extend({ revealed: z.boolean() })),
});
const V2Schema = z.object({ version: z.literal(2), commits: z.array(CommitRecordSchema) });

/** Terminal records older than this many epochs (behind the newest record) are pruned. */
const HISTORY_EPOCHS = 16n;

/**
 * The validator's durable memory: every commit it made and how far it got (reveal, settlement). Each change is
 * written atomically (write, fsync, rename) BEFORE the transaction it enables is sent, so a SIGKILL at any moment
 * leaves either the old or the new file, and the file never lacks a salt whose hash may be on-chain.
 *
 * Several records may exist for one epoch (a re-commit replaces the on-chain hash, and a crash may come between
 * saving the new salt and the transaction): the reveal picks the record whose hash is the one on-chain.
 */
export class ValidatorState {
  private commits: CommitRecord[];

  private constructor(private readonly path: string, commits: CommitRecord[]) {
    this.commits = commits;
  }

  static load(path: string): ValidatorState {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new ValidatorState(path, []);
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CerberusError("BAD_STATE", `${path}: not JSON (${(err as Error).message})`);
    }
    const v2 = V2Schema.safeParse(json);
    if (v2.success) return new ValidatorState(path, v2.data.commits);
    const v1 = V1Schema.safeParse(json);
    if (v1.success) {
      // Version 1 knew only "revealed or not"; a revealed epoch may still need settling, which the agent checks.
      return new ValidatorState(path, v1.data.pending.map(({ revealed, ...p }) => ({ ...p, status: revealed ? "revealed" : "pending" })));
    }
    throw new CerberusError("BAD_STATE", `${path}: ${v2.error.message}`);
  }

  /** Every record of `brainId` with one of `statuses`, oldest epoch first. */
  list(brainId: bigint, ...statuses: CommitStatus[]): readonly CommitRecord[] {
    return this.commits
      .filter((c) => c.brainId === brainId.toString() && (statuses.length === 0 || statuses.includes(c.status)))
      .sort((a, b) => (BigInt(a.epoch) < BigInt(b.epoch) ? -1 : BigInt(a.epoch) > BigInt(b.epoch) ? 1 : 0));
  }

  /** Records still owing a reveal (any Brain). */
  get unrevealed(): readonly CommitRecord[] {
    return this.commits.filter((c) => c.status === "pending");
  }

  /** Every record for (brainId, epoch): the candidates for the on-chain hash. */
  forEpoch(brainId: bigint, epoch: bigint): readonly CommitRecord[] {
    return this.commits.filter((c) => c.brainId === brainId.toString() && c.epoch === epoch.toString());
  }

  /** Saves a new commit (status pending) next to any earlier record of the same epoch. */
  record(entry: Omit<CommitRecord, "status" | "note">): void {
    this.commits = [...this.commits.filter((c) => c.hash !== entry.hash), { ...entry, status: "pending" }];
    this.save();
  }

  /** Drops a record whose commit is known not to be on-chain (its transaction reverted). */
  forget(hash: `0x${string}`): void {
    this.commits = this.commits.filter((c) => c.hash !== hash);
    this.save();
  }

  /** The reveal of `hash` is on-chain: it becomes the epoch's only record (the other candidates were superseded). */
  markRevealed(brainId: bigint, epoch: bigint, hash: `0x${string}`): void {
    const keep = this.forEpoch(brainId, epoch).find((c) => c.hash === hash);
    if (keep === undefined) return;
    this.commits = this.commits.filter((c) => c === keep || !(c.brainId === keep.brainId && c.epoch === keep.epoch));
    keep.status = "revealed";
    this.save();
  }

  markSettled(brainId: bigint, epoch: bigint): void {
    this.setStatus(brainId, epoch, "settled", undefined);
  }

  /** Nothing more can be done for the epoch's records; `why` is kept in the file. */
  markLost(brainId: bigint, epoch: bigint, why: string): void {
    this.setStatus(brainId, epoch, "lost", why.slice(0, 500));
  }

  private setStatus(brainId: bigint, epoch: bigint, status: CommitStatus, note: string | undefined): void {
    const records = this.forEpoch(brainId, epoch);
    if (records.length === 0) return;
    for (const r of records) {
      r.status = status;
      if (note === undefined) delete r.note;
      else r.note = note;
    }
    this.prune();
    this.save();
  }

  /** Keeps a short history: terminal records far behind the newest epoch are of no further use. */
  private prune(): void {
    const newest = this.commits.reduce((m, c) => (BigInt(c.epoch) > m ? BigInt(c.epoch) : m), 0n);
    this.commits = this.commits.filter((c) =>
      (c.status !== "settled" && c.status !== "lost") || BigInt(c.epoch) + HISTORY_EPOCHS > newest);
  }

  private save(): void {
    writeFileAtomic(this.path, JSON.stringify({ version: 2, commits: this.commits }, null, 2) + "\n", 0o600);
  }
}

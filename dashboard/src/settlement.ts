/** How the pages word a settled epoch: what it paid, or that it was forfeited (no DOM: unit-tested in Node). */
import { cbr } from "./ui.ts";

export interface SettledTotals {
  brainId?: bigint;
  epoch: bigint;
  emission: bigint;
  minerPaid: bigint;
  validatorPaid: bigint;
  ownerPaid: bigint;
}

/**
 * "epoch 11 settled: 100 CBR paid (miners 41, validators 41, owner 18)", or, when no miner earned a share and the
 * epoch's accrual was forfeited (EpochSettled then reports it as `emission` and pays nobody), says so.
 */
export function settledText(e: SettledTotals): string {
  const what = `${e.brainId !== undefined ? `Brain ${e.brainId} ` : ""}epoch ${e.epoch} settled`;
  const paid = e.minerPaid + e.validatorPaid + e.ownerPaid;
  if (paid === 0n && e.emission > 0n) return `${what}: ${cbr(e.emission)} CBR forfeited (no miner earned a share), nothing paid`;
  return `${what}: ${cbr(paid)} CBR paid (miners ${cbr(e.minerPaid)}, validators ${cbr(e.validatorPaid)}, owner ${cbr(e.ownerPaid)})`;
}

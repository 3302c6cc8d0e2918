/** `cerberus transfer|balance|stake|delegate|unstake|withdraw|claim|commission|take|positions`: tokens and staking. */
import type { Command } from "commander";
import type { Address } from "viem";
import { getStakerView, secondsPerBlock } from "../sdk/index.ts";
import { CerberusError } from "../core/errors.ts";
import { addressArg, cbrArg, chainFrom, formatCbr, jsonBig, minerSeatArg, takeArg, type Globals } from "./args.ts";

export function registerStakingCommands(program: Command, g: Globals): void {
  program.command("transfer").description("send CBR").argument("<to>", "address", addressArg).argument("<amount>", "CBR", cbrArg)
    .action(async (to: Address, amount: bigint) => { await chainFrom(g()).transfer(to, amount); console.log("sent"); });
  program.command("balance").description("CBR balance of an address").argument("<address>", "address", addressArg)
    .action(async (a: Address) => console.log(`${formatCbr(await chainFrom(g(), false).balanceOf(a))} CBR`));
  program.command("stake").description("stake CBR on your own hotkey").argument("<amount>", "CBR", cbrArg)
    .action(async (amount: bigint) => { const c = chainFrom(g()); await c.stake(c.address, amount); console.log("staked"); });
  program.command("delegate").description("stake CBR on a validator's hotkey (its take applies to your rewards)")
    .argument("<hotkey>", "validator hotkey", addressArg).argument("<amount>", "CBR", cbrArg)
    .action(async (hotkey: Address, amount: bigint) => { await chainFrom(g()).stake(hotkey, amount); console.log("delegated"); });
  program.command("unstake")
    .description("start unbonding stake from a hotkey (unbonding is one amount per staker: adding to it restarts its clock)")
    .argument("<hotkey>", "hotkey", addressArg).argument("<amount>", "CBR", cbrArg)
    .option("--yes", "unstake even if it restarts the clock of what is already unbonding")
    .action(async (hotkey: Address, amount: bigint, o: { yes?: boolean }) => {
      const c = chainFrom(g());
      const [u, head] = await Promise.all([c.unbonding(c.address), c.blockNumber()]);
      if (u.amount > 0n && head < u.releaseBlock && !o.yes) {
        throw new CerberusError("UNBONDING_RESTART", `${formatCbr(u.amount)} CBR is already unbonding until block ` +
          `${u.releaseBlock}; unstaking now restarts the unbonding period for all of it. Add --yes to go ahead ` +
          `(or withdraw first once it is released).`);
      }
      await c.unstake(hotkey, amount);
      const after = await c.unbonding(c.address);
      console.log(`unbonding ${formatCbr(after.amount)} CBR, withdrawable from block ${after.releaseBlock}`);
    });
  program.command("withdraw").description("withdraw stake whose unbonding period has passed")
    .option("--wait", "if it is still unbonding, wait for its release block first")
    .action(async (o: { wait?: boolean }) => {
      const c = chainFrom(g());
      const u = await c.unbonding(c.address);
      if (u.amount === 0n) throw new CerberusError("NOTHING_UNBONDING", "nothing is unbonding: `unstake` first");
      let head = await c.blockNumber();
      if (head < u.releaseBlock && o.wait !== true) {
        throw new CerberusError("STILL_UNBONDING", `${formatCbr(u.amount)} CBR is released at block ${u.releaseBlock} ` +
          `(${u.releaseBlock - head} blocks from now); add --wait to wait for it`);
      }
      if (head < u.releaseBlock) {
        process.stderr.write(`waiting for block ${u.releaseBlock} (${u.releaseBlock - head} blocks from now) to withdraw ` +
          `${formatCbr(u.amount)} CBR\n`);
      }
      while (head < u.releaseBlock) {
        await new Promise((r) => setTimeout(r, 1_000));
        head = await c.blockNumber();
      }
      console.log(`withdrew ${formatCbr(c.received(await c.withdraw()))} CBR`);
    });
  program.command("claim").description("claim staking rewards accrued on a hotkey (or, with --miner, a miner seat's incentive)")
    .argument("[hotkey]", "the hotkey you staked on (not with --miner)", addressArg)
    .option("--miner <brainId:uid>", "claim your miner seat's incentive instead", minerSeatArg)
    .action(async (hotkey: Address | undefined, o: { miner?: { brainId: bigint; uid: number } }) => {
      if ((hotkey === undefined) === (o.miner === undefined)) {
        throw new CerberusError("BAD_FLAG", "give either a <hotkey> (staking rewards) or --miner <brainId:uid> (a seat's incentive)");
      }
      const c = chainFrom(g());
      const receipt = o.miner !== undefined ? await c.claimMiner(o.miner.brainId, o.miner.uid) : await c.claimRewards(hotkey!);
      const what = o.miner !== undefined ? `miner seat ${o.miner.brainId}:${o.miner.uid}'s incentive` : `staking rewards on ${hotkey}`;
      console.log(`claimed ${formatCbr(c.received(receipt))} CBR (${what})`);
    });
  program.command("claim-removed").description("claim the incentive of miner seats you no longer hold (deregistered or pruned)")
    .action(async () => {
      const c = chainFrom(g());
      console.log(`claimed ${formatCbr(c.received(await c.claimRemoved()))} CBR (miner seats you no longer hold)`);
    });
  program.command("commission").description("claim your hotkey's accumulated take (commission) on its delegators' dividends")
    .action(async () => {
      const c = chainFrom(g());
      console.log(`claimed ${formatCbr(c.received(await c.claimCommission()))} CBR of commission`);
    });
  program.command("take").description("set your validator hotkey's take on dividends, in percent (0–20); a lower take " +
    "applies at once, a raise only after a delay (it is scheduled, and delegators see it coming)")
    .argument("<percent>", "e.g. 9 or 12.5", takeArg)
    .action(async (bps: number) => {
      const c = chainFrom(g());
      await c.setTake(bps);
      const [t, head] = await Promise.all([c.takeInfo(c.address), c.blockNumber()]);
      if (t.effectiveBlock > head && t.pendingTakeBps !== t.takeBps) {
        const blocks = t.effectiveBlock - head;
        const spb = await secondsPerBlock(c.reader, head);
        const eta = spb === undefined ? "" : `, ≈ ${formatDuration(Number(blocks) * spb)}`;
        console.log(`take raise to ${t.pendingTakeBps / 100}% scheduled: it applies from block ${t.effectiveBlock} ` +
          `(in ${blocks} blocks${eta}); the take stays ${t.takeBps / 100}% until then`);
      } else {
        console.log(`take is now ${t.takeBps / 100}%`);
      }
    });
  program.command("positions").description("a staker's positions, claimable rewards, commission and unbonding (read-only)")
    .argument("[address]", "staker (default: --account / --private-key)", addressArg)
    .option("--json", "print JSON")
    .action(async (address: Address | undefined, o: { json?: boolean }) => {
      const flags = g();
      if (address === undefined && !flags.account && !flags.privateKey) {
        throw new CerberusError("BAD_FLAG", "whose positions? give an <address>, or --account / --private-key (or the env " +
          "vars) for your own");
      }
      const c = chainFrom(flags, false);
      const v = await getStakerView(c.reader, address ?? c.address);
      if (o.json) {
        console.log(JSON.stringify(v, jsonBig, 2));
        return;
      }
      console.log(`staker ${v.staker} at block ${v.head}: balance ${formatCbr(v.balance)} CBR`);
      for (const p of v.positions) {
        const warming = p.warming > 0n ? ` (${formatCbr(p.warming)} warming up)` : "";
        const role = p.validatorOf === null ? "not a validator" : `validator in Brain #${p.validatorOf}`;
        const raise = p.hotkeyNextTake ? ` → ${p.hotkeyNextTake.bps / 100}% from block ${p.hotkeyNextTake.fromBlock}` : "";
        console.log(`  ${p.hotkey} (${role})  staked ${formatCbr(p.amount)} CBR${warming}  ` +
          `claimable ${formatCbr(p.pendingRewards)} CBR  take ${p.hotkeyTakeBps / 100}%${raise}`);
      }
      if (v.positions.length === 0) console.log("  no positions");
      for (const m of v.minerSeats) {
        console.log(`  miner seat ${m.brainId}:${m.uid}  claimable ${formatCbr(m.pending)} CBR  (cerberus claim --miner ${m.brainId}:${m.uid})`);
      }
      const u = v.unbonding;
      console.log(`unbonding: ${u.amount === 0n ? "none" : `${formatCbr(u.amount)} CBR, ` +
        (u.withdrawable ? "withdrawable now" : `release at block ${u.releaseBlock} (${u.releaseBlock - v.head} blocks left)`)}`);
      console.log(`commission: ${formatCbr(v.commission)} CBR; removed miner seats: ${formatCbr(v.removedMinerRewards)} CBR; ` +
        `claimable in total: ${formatCbr(v.totalClaimable)} CBR`);
    });
}

/** "2 h 5 min", "40 s": a rough duration for a block count at the chain's recent block time. */
function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** `cerberus transfer|balance|stake|delegate|unstake|withdraw|claim|commission|take|positions`: tokens and staking. */
import type { Command } from "commander";
import type { Address } from "viem";
import { getStakerView } from "../sdk/index.ts";
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
    .action(async () => { await chainFrom(g()).withdraw(); console.log("withdrawn"); });
  program.command("claim").description("claim staking rewards accrued on a hotkey (or, with --miner, a miner seat's incentive)")
    .argument("[hotkey]", "the hotkey you staked on (not with --miner)", addressArg)
    .option("--miner <brainId:uid>", "claim your miner seat's incentive instead", minerSeatArg)
    .action(async (hotkey: Address | undefined, o: { miner?: { brainId: bigint; uid: number } }) => {
      if ((hotkey === undefined) === (o.miner === undefined)) {
        throw new CerberusError("BAD_FLAG", "give either a <hotkey> (staking rewards) or --miner <brainId:uid> (a seat's incentive)");
      }
      const c = chainFrom(g());
      if (o.miner !== undefined) await c.claimMiner(o.miner.brainId, o.miner.uid);
      else await c.claimRewards(hotkey!);
      console.log("claimed");
    });
  program.command("claim-removed").description("claim the incentive of miner seats you no longer hold (deregistered or pruned)")
    .action(async () => { await chainFrom(g()).claimRemoved(); console.log("claimed"); });
  program.command("commission").description("claim your hotkey's accumulated take (commission) on its delegators' dividends")
    .action(async () => { await chainFrom(g()).claimCommission(); console.log("commission claimed"); });
  program.command("take").description("set your validator hotkey's take on dividends, in percent (0–20)")
    .argument("<percent>", "e.g. 9 or 12.5", takeArg)
    .action(async (bps: number) => { await chainFrom(g()).setTake(bps); console.log(`take set to ${bps / 100}%`); });
  program.command("positions").description("a staker's positions, claimable rewards, commission and unbonding (read-only)")
    .argument("[address]", "staker (default: --account / --private-key)", addressArg)
    .option("--json", "print JSON")
    .action(async (address: Address | undefined, o: { json?: boolean }) => {
      const flags = g();
      const c = chainFrom(flags, address === undefined);
      const v = await getStakerView(c.reader, address ?? c.address);
      if (o.json) {
        console.log(JSON.stringify(v, jsonBig, 2));
        return;
      }
      console.log(`staker ${v.staker} at block ${v.head}: balance ${formatCbr(v.balance)} CBR`);
      for (const p of v.positions) {
        const warming = p.warming > 0n ? ` (${formatCbr(p.warming)} warming up)` : "";
        const role = p.validatorOf === null ? "not a validator" : `validator in Brain #${p.validatorOf}`;
        const raise = p.hotkeyNextTake ? ` → ${p.hotkeyNextTake.bps / 100}% for epochs from block ${p.hotkeyNextTake.fromBlock}` : "";
        console.log(`  ${p.hotkey} (${role})  staked ${formatCbr(p.amount)} CBR${warming}  ` +
          `claimable ${formatCbr(p.pendingRewards)} CBR  take ${p.hotkeyTakeBps / 100}%${raise}`);
      }
      if (v.positions.length === 0) console.log("  no positions");
      const u = v.unbonding;
      console.log(`unbonding: ${u.amount === 0n ? "none" : `${formatCbr(u.amount)} CBR, ` +
        (u.withdrawable ? "withdrawable now" : `release at block ${u.releaseBlock} (${u.releaseBlock - v.head} blocks left)`)}`);
      console.log(`commission: ${formatCbr(v.commission)} CBR; removed miner seats: ${formatCbr(v.removedMinerRewards)} CBR; ` +
        `claimable in total: ${formatCbr(v.totalClaimable)} CBR`);
    });
}

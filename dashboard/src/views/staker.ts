/**
 * Staker page: with an injected wallet, "Connect" reads the wallet's account, and the stake/delegate form and the
 * claim, unstake, withdraw and commission buttons send through it; without one, the page reads any address typed in
 * (read-only).
 */
import { parseUnits, type Address, type WalletClient } from "viem";
import {
  getStakerView,
  secondsPerBlock,
  sendWithWallet,
  stakeWithWallet,
  type CerberusReader,
  type StakerView,
  type StakingAction,
} from "../../../nodes/sdk/index.ts";
import { cbr, errorBox, h, kv, plural, short } from "../ui.ts";
import { injectedWallet } from "../wallet.ts";

export async function renderStaker(r: CerberusReader, view: HTMLElement, address: string | undefined, alive: () => boolean): Promise<void> {
  const wallet = injectedWallet();
  const addrInput = h("input", { name: "address", placeholder: "0x… staker address", size: 44, value: address ?? "" });
  const lookup = h(
    "form",
    {
      class: "row",
      id: "lookup",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        location.hash = `#/staker/${addrInput.value.trim()}`;
      },
    },
    addrInput,
    h("button", { type: "submit" }, "Read"),
    wallet
      ? h(
          "button",
          {
            type: "button",
            id: "connect",
            onclick: async () => {
              const [acct] = await wallet.requestAddresses();
              if (acct) location.hash = `#/staker/${acct}`;
            },
          },
          "Connect wallet",
        )
      : h("span", { class: "muted", id: "no-wallet" }, "No injected wallet: read-only by address."),
  );
  const parts: Node[] = [h("h1", {}, "Staker"), lookup];

  if (address) {
    // A bad address is an error under the form, not a page without the form (the input keeps what was typed).
    let v: StakerView;
    try {
      v = await getStakerView(r, address);
    } catch (err) {
      if (!alive()) return;
      view.replaceChildren(...parts, errorBox(err), stakeForm(r, wallet, alive));
      return;
    }
    const spb = v.unbonding.amount > 0n && !v.unbonding.withdrawable ? await secondsPerBlock(r, v.head) : undefined;
    if (!alive()) return;
    const own = wallet ? (await wallet.getAddresses())[0]?.toLowerCase() === v.staker.toLowerCase() : false;
    if (!alive()) return;
    const act = own && wallet ? actionButton(r, wallet, alive) : null;
    parts.push(summary(v, spb, act), h("h2", {}, "Positions"), positionsTable(v, act));
  }
  parts.push(h("h2", {}, "Stake"), stakeForm(r, wallet, alive));
  view.replaceChildren(...parts);
}

type ActionButton = (label: string, id: string, action: () => StakingAction | null) => HTMLElement;

/** A button that sends one staking action through the wallet, shows the result, then re-reads the page. */
function actionButton(r: CerberusReader, wallet: WalletClient, alive: () => boolean): ActionButton {
  return (label, id, action) => {
    const status = h("span", { class: "muted", "data-status": id });
    const button = h("button", {
      type: "button",
      id,
      onclick: async () => {
        const a = action();
        if (a === null) return;
        button.disabled = true;
        status.textContent = "Waiting for the wallet…";
        try {
          const tx = await sendWithWallet(r, wallet, a);
          status.replaceChildren(h("span", { "data-tx": tx }, "done"));
          if (alive()) window.dispatchEvent(new HashChangeEvent("hashchange"));
        } catch (err) {
          status.replaceChildren(errorBox(err));
          button.disabled = false;
        }
      },
    }, label);
    return h("span", { class: "action" }, button, " ", status);
  };
}

function unbondingText(v: StakerView, spb: number | undefined): string {
  const u = v.unbonding;
  if (u.amount === 0n) return "none";
  if (u.withdrawable) return `${cbr(u.amount)} CBR, released at block ${u.releaseBlock}: withdrawable now`;
  const left = u.releaseBlock - v.head;
  const eta = spb === undefined ? "" : `, ≈ ${duration(Number(left) * spb)}`;
  return `${cbr(u.amount)} CBR, release at block ${u.releaseBlock} (now ${v.head}: ${plural(left, "block")} left${eta})`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5_400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3_600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

function summary(v: StakerView, spb: number | undefined, act: ActionButton | null): HTMLElement {
  const staked = v.positions.reduce((a, p) => a + p.amount, 0n);
  return h(
    "div",
    { class: "card", id: "summary" },
    kv([
      ["Address", h("span", { class: "mono" }, v.staker)],
      ["Wallet balance", `${cbr(v.balance)} CBR`],
      ["Staked", `${cbr(staked)} CBR on ${plural(v.positions.length, "hotkey")}`],
      [
        "Unbonding",
        h("span", { id: "unbonding", "data-wei": String(v.unbonding.amount), "data-release": String(v.unbonding.releaseBlock) },
          unbondingText(v, spb), " ",
          act && v.unbonding.withdrawable ? act("Withdraw", "withdraw", () => ({ kind: "withdraw" })) : null),
      ],
      [
        "Commission (own hotkey)",
        h("span", {}, `${cbr(v.commission)} CBR `,
          act && v.commission > 0n ? act("Claim commission", "claim-commission", () => ({ kind: "claimCommission" })) : null),
      ],
      [
        "Rewards of removed miner seats",
        h("span", {}, `${cbr(v.removedMinerRewards)} CBR `,
          act && v.removedMinerRewards > 0n ? act("Claim", "claim-removed", () => ({ kind: "claimRemoved" })) : null),
      ],
      ["Claimable in total", h("strong", { id: "claimable", "data-wei": String(v.totalClaimable) }, `${cbr(v.totalClaimable)} CBR`)],
    ]),
  );
}

function positionsTable(v: StakerView, act: ActionButton | null): HTMLElement {
  const headers = ["Hotkey", "Validator of", "Staked (CBR)", "Claimable (CBR)", "Hotkey total", "Take", ...(act ? ["Actions"] : [])];
  return h(
    "table",
    { id: "positions" },
    h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      ...v.positions.map((p) => {
        const key = p.hotkey.toLowerCase();
        const amount = h("input", { name: "unstake-amount", placeholder: "CBR", size: 8 });
        const actions = act
          ? h(
              "td",
              { class: "actions" },
              p.pendingRewards > 0n ? act("Claim", `claim-${key}`, () => ({ kind: "claimRewards", hotkey: p.hotkey })) : null,
              p.amount > 0n ? amount : null,
              p.amount > 0n
                ? act("Unstake", `unstake-${key}`, () => {
                    let wei: bigint;
                    try {
                      wei = parseUnits(amount.value.trim() || "0", 18);
                    } catch {
                      amount.setCustomValidity("an amount of CBR, e.g. 12.5");
                      amount.reportValidity();
                      return null;
                    }
                    // Unbonding is one aggregated amount per staker: adding to it restarts its clock for all of it.
                    if (v.unbonding.amount > 0n && !v.unbonding.withdrawable &&
                      !confirm(`You already have ${cbr(v.unbonding.amount)} CBR unbonding (release at block ` +
                        `${v.unbonding.releaseBlock}). Unstaking now restarts the unbonding period for all of it. Continue?`)) {
                      return null;
                    }
                    return { kind: "unstake", hotkey: p.hotkey, amount: wei };
                  })
                : null,
            )
          : null;
        return h(
          "tr",
          { "data-hotkey": key, "data-amount": String(p.amount), "data-pending": String(p.pendingRewards) },
          h("td", { class: "mono", title: p.hotkey }, short(p.hotkey)),
          h("td", { "data-validator-of": p.validatorOf === null ? "" : String(p.validatorOf) },
            p.validatorOf === null ? h("span", { class: "no" }, "not a validator") : h("a", { href: `#/brain/${p.validatorOf}` }, `Brain #${p.validatorOf}`)),
          h("td", { class: "num" }, cbr(p.amount), p.warming > 0n ? h("span", { class: "muted", title: "earns from the hotkey's distribution after next" }, ` (${cbr(p.warming)} warming up)`) : null),
          h("td", { class: "num" }, cbr(p.pendingRewards)),
          h("td", { class: "num" }, cbr(p.hotkeyTotalStake, 2)),
          h("td", { class: "num" }, `${p.hotkeyTakeBps / 100}%`,
            p.hotkeyNextTake ? h("span", { class: "no", "data-next-take": String(p.hotkeyNextTake.bps) }, ` → ${p.hotkeyNextTake.bps / 100}% for epochs from block ${p.hotkeyNextTake.fromBlock}`) : null),
          actions,
        );
      }),
    ),
  );
}

/** Stake / delegate form (needs the wallet to sign). */
function stakeForm(r: CerberusReader, wallet: WalletClient | null, alive: () => boolean): HTMLElement {
  const hotkey = h("input", { name: "hotkey", placeholder: "0x… hotkey (your own address = own stake)", size: 44 });
  const amount = h("input", { name: "amount", placeholder: "amount in CBR", size: 14 });
  const status = h("p", { id: "stake-status", class: "muted" });
  const submit = h("button", { type: "submit", disabled: !wallet }, "Stake");
  return h(
    "form",
    {
      id: "stake-form",
      class: "card",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        if (!wallet) return;
        submit.disabled = true;
        status.textContent = "Waiting for the wallet…";
        try {
          const value = parseUnits(amount.value.trim() || "0", 18);
          const res = await stakeWithWallet(r, wallet, hotkey.value.trim(), value);
          status.replaceChildren(h("span", { "data-tx": res.stakeTx }, `Staked: ${res.stakeTx}`));
          const [acct] = await wallet.getAddresses();
          if (acct && alive()) {
            // Re-read the page for the account that just staked.
            const target = `#/staker/${acct as Address}`;
            if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
            else location.hash = target;
          }
        } catch (err) {
          status.replaceChildren(errorBox(err));
        } finally {
          submit.disabled = !wallet;
        }
      },
    },
    h("h3", {}, "Stake or delegate"),
    h("div", { class: "row" }, hotkey, amount, submit),
    wallet ? null : h("p", { class: "muted" }, "Install or enable a wallet (window.ethereum) to send transactions."),
    status,
  );
}

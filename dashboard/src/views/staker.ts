/**
 * Staker page: with an injected wallet, "Connect" reads the wallet's account and the stake/delegate form sends
 * through it; without one, the page reads any address typed in (read-only).
 */
import { parseUnits, type Address } from "viem";
import { getStakerView, stakeWithWallet, type CerberusReader } from "../../../nodes/sdk/index.ts";
import { cbr, errorBox, h, kv, short } from "../ui.ts";
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
    const v = await getStakerView(r, address);
    if (!alive()) return;
    parts.push(
      h(
        "div",
        { class: "card", id: "summary" },
        kv([
          ["Address", h("span", { class: "mono" }, v.staker)],
          ["Wallet balance", `${cbr(v.balance)} CBR`],
          ["Staked", `${cbr(v.positions.reduce((a, p) => a + p.amount, 0n))} CBR on ${v.positions.length} hotkeys`],
          [
            "Unbonding",
            v.unbonding.amount === 0n
              ? "none"
              : `${cbr(v.unbonding.amount)} CBR, release at block ${v.unbonding.releaseBlock}${v.unbonding.withdrawable ? " (withdrawable)" : ""}`,
          ],
          ["Commission (own hotkey)", `${cbr(v.commission)} CBR`],
          ["Rewards of removed miner seats", `${cbr(v.removedMinerRewards)} CBR`],
          ["Claimable in total", h("strong", { id: "claimable", "data-wei": String(v.totalClaimable) }, `${cbr(v.totalClaimable)} CBR`)],
        ]),
      ),
      h("h2", {}, "Positions"),
      h(
        "table",
        { id: "positions" },
        h("thead", {}, h("tr", {}, ...["Hotkey", "Staked (CBR)", "Claimable (CBR)", "Hotkey total", "Take"].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          ...v.positions.map((p) =>
            h(
              "tr",
              { "data-hotkey": p.hotkey.toLowerCase(), "data-amount": String(p.amount), "data-pending": String(p.pendingRewards) },
              h("td", { class: "mono", title: p.hotkey }, short(p.hotkey)),
              h("td", { class: "num" }, cbr(p.amount)),
              h("td", { class: "num" }, cbr(p.pendingRewards)),
              h("td", { class: "num" }, cbr(p.hotkeyTotalStake, 2)),
              h("td", { class: "num" }, `${p.hotkeyTakeBps / 100}%`),
            ),
          ),
        ),
      ),
    );
  }

  // Stake / delegate form (needs the wallet to sign).
  const hotkey = h("input", { name: "hotkey", placeholder: "0x… hotkey (your own address = own stake)", size: 44 });
  const amount = h("input", { name: "amount", placeholder: "amount in CBR", size: 14 });
  const status = h("p", { id: "stake-status", class: "muted" });
  const submit = h("button", { type: "submit", disabled: !wallet }, "Stake");
  const form = h(
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
  parts.push(h("h2", {}, "Stake"), form);
  view.replaceChildren(...parts);
}

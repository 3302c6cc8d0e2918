/** One Brain: metadata, epoch state, per-epoch incentive chart, validators' commit/reveal, sortable neurons. */
import {
  getBrain,
  getEpochState,
  getIncentiveHistory,
  getValidatorActivity,
  type CerberusReader,
  type Neuron,
} from "../../../nodes/sdk/index.ts";
import { lineChart } from "../chart.ts";
import { settledText } from "../settlement.ts";
import { cbr, h, kv, pct, short } from "../ui.ts";

type SortKey = "incentive" | "uid" | "stake" | "pendingReward";

const HISTORY_EPOCHS = 3;
const CHART_MINERS = 8;

export async function renderBrain(r: CerberusReader, view: HTMLElement, id: bigint, alive: () => boolean): Promise<void> {
  const head = await r.client.getBlockNumber();
  const [brain, state] = await Promise.all([getBrain(r, id), getEpochState(r, id, { head })]);
  // Nothing settled after the Brain's last settlement block: the backward scan for the last settlements starts there
  // and goes back as far as it must (however long ago they were), in pages that grow as it goes.
  const [history, activity] = await Promise.all([
    !brain.settledAny
      ? Promise.resolve([])
      : getIncentiveHistory(r, id, { epochs: HISTORY_EPOCHS, toBlock: brain.lastUpdate, fromBlock: brain.genesisBlock }),
    getValidatorActivity(r, id, state, brain.validators),
  ]);
  if (!alive()) return;

  const byUid = new Map(brain.validators.map((v) => [v.uid, v]));
  const validatorRows = activity.map((a) => {
    const v = byUid.get(a.uid);
    // A missing commit or reveal reads as what it is, "missed", not as a greyed-out "committed" — but only once its
    // window has closed: until then it is still to come (the current epoch's commit window lasts the whole epoch).
    const mark = (ok: boolean, label: string, openUntil?: bigint) => ok
      ? h("span", { class: "ok" }, `✔ ${label}`)
      : openUntil !== undefined && state.head <= openUntil
        ? h("span", { class: "pending" }, `… open until block ${openUntil}`)
        : h("span", { class: "no" }, "✘ missed");
    return h(
      "tr",
      { "data-validator": a.uid },
      h("td", { class: "num" }, a.uid),
      h("td", { class: "mono", title: a.hotkey }, short(a.hotkey)),
      h("td", { class: "num" }, v ? cbr(v.stake, 2) : ""),
      h("td", { class: "num" }, v ? pct(v.dividends) : ""),
      h("td", { class: "num", "data-take": v ? String(v.take.bps) : "" }, v ? takeText(v.take) : ""),
      h("td", { "data-committed-current": String(a.committedCurrent) },
        mark(a.committedCurrent, `epoch ${state.currentEpoch}`, state.current.revealFrom - 1n)),
      h("td", {}, state.previous ? mark(a.committedPrevious, "committed") : "—"),
      h("td", { "data-revealed-previous": String(a.revealedPrevious) },
        state.previous ? mark(a.revealedPrevious, "revealed", state.previous.revealTo - 1n) : "—"),
    );
  });

  // Chart: the miners with the highest current incentive, over the last settled epochs.
  const top = [...brain.miners].sort((a, b) => b.incentiveRaw - a.incentiveRaw).slice(0, CHART_MINERS);
  const chart =
    history.length === 0
      ? h("p", { class: "muted" }, "No settled epoch yet.")
      : top.length === 0
        ? h("p", { class: "muted" }, "No miners to chart.")
        : lineChart(
          history.map((e) => `epoch ${e.epoch}`),
          top.map((m) => ({ label: `miner #${m.uid}`, values: history.map((e) => e.incentives[m.uid] ?? 0) })),
          { yFormat: (v) => `${(v * 100).toFixed(2)}%`, yMax: 1 },
        );

  let sortKey: SortKey = "incentive";
  let desc = true;
  const tbody = h("tbody", {});
  const headers: [SortKey | null, string][] = [
    ["uid", "UID"],
    [null, "Hotkey"],
    [null, "Peer id"],
    ["stake", "Stake (CBR)"],
    ["incentive", "Incentive"],
    ["pendingReward", "Pending reward"],
    [null, "Registered"],
    [null, "Last update"],
  ];
  const thead = h("thead", {});
  const value = (n: Neuron, k: SortKey): number | bigint =>
    k === "incentive" ? n.incentiveRaw : k === "uid" ? n.uid : k === "stake" ? n.stake : n.pendingReward;
  const renderRows = () => {
    const rows = [...brain.miners].sort((a, b) => {
      const x = value(a, sortKey);
      const y = value(b, sortKey);
      const c = x < y ? -1 : x > y ? 1 : a.uid - b.uid;
      return desc ? -c : c;
    });
    tbody.replaceChildren(
      ...rows.map((n) =>
        h(
          "tr",
          { "data-uid": n.uid },
          h("td", { class: "num" }, n.uid),
          h("td", { class: "mono", title: n.hotkey }, short(n.hotkey)),
          h("td", { class: "mono", title: n.multiaddrs }, n.peerId),
          h("td", { class: "num" }, cbr(n.stake, 2)),
          h("td", { class: "num", "data-incentive-raw": n.incentiveRaw }, pct(n.incentive)),
          h("td", { class: "num" }, cbr(n.pendingReward)),
          h("td", { class: "num" }, String(n.registeredAt)),
          h("td", { class: "num" }, String(n.lastUpdate)),
        ),
      ),
    );
    thead.replaceChildren(
      h(
        "tr",
        {},
        ...headers.map(([k, label]) =>
          k === null
            ? h("th", {}, label)
            : h(
                "th",
                {
                  class: "sortable",
                  "data-sort": k,
                  "aria-sort": k === sortKey ? (desc ? "descending" : "ascending") : undefined,
                  onclick: () => {
                    desc = k === sortKey ? !desc : true;
                    sortKey = k;
                    renderRows();
                  },
                },
                label + (k === sortKey ? (desc ? " ▼" : " ▲") : ""),
              ),
        ),
      ),
    );
  };
  renderRows();

  const settlement = state.settlement;
  const total = brain.miners.length + brain.validators.length;
  view.replaceChildren(
    h("h1", {}, `Brain #${brain.id}`),
    h(
      "p",
      { id: "neuron-count", "data-count": total, "data-miners": brain.miners.length, "data-validators": brain.validators.length },
      `${total} neurons: ${brain.miners.length} miners, ${brain.validators.length} validators`,
    ),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Brain"),
        kv([
          ["Owner", brain.active ? h("span", { class: "mono" }, brain.owner) : h("span", { class: "no" }, "deregistered (NFT burned)")],
          [
            "Emission share",
            h("span", { id: "emission-share", "data-share": String(brain.emission.share) },
              `${pct(brain.emission.share)} of each block's reward (${cbr(brain.emission.weight, 0)} of ${cbr(brain.emission.totalWeight, 0)} CBR validator stake)`),
          ],
          ["Model hash", h("span", { class: "mono" }, short(brain.modelHash))],
          ["FHE params", h("span", { class: "mono" }, short(brain.fheParamsHash))],
          ["URI", brain.uri],
          ["Tempo", `${brain.tempo} blocks (genesis ${brain.genesisBlock})`],
          ["Limits", `${brain.limits.maxMiners} miners, ${brain.limits.maxValidators} validators`],
          ["Min stake", `miner ${cbr(brain.limits.minMinerStake)} / validator ${cbr(brain.limits.minValidatorStake)} CBR`],
          ["Immunity", `${brain.limits.immunityPeriod} blocks`],
        ]),
      ),
      h(
        "div",
        { class: "card", id: "epoch" },
        h("h3", {}, "Epoch"),
        kv([
          ["Block", String(state.head)],
          ["Current epoch", String(state.currentEpoch)],
          ["Commit window", `${state.current.commitFrom} – ${state.current.revealFrom - 1n}`],
          [
            "Reveal window",
            state.previous
              ? `epoch ${state.previous.epoch}: ${state.previous.revealFrom} – ${state.previous.revealTo - 1n} (${state.revealOpen ? "open" : "closed"})`
              : "—",
          ],
          [
            "Settlement",
            settlement.settledAny
              ? settlement.phase === "idle"
                ? history.at(-1)?.epoch === settlement.epoch
                  ? `${settledText(history.at(-1)!)} at block ${settlement.lastSettledBlock}`
                  : `epoch ${settlement.epoch} settled at block ${settlement.lastSettledBlock}`
                : `epoch ${settlement.epoch} ${settlement.phase} (cursor ${settlement.cursor})`
              : "none yet",
          ],
          ["Pending emission", `${cbr(state.pendingEmission)} CBR`],
        ]),
      ),
    ),
    h("h2", {}, "Incentive per epoch (top miners)"),
    h("div", { class: "card", id: "incentive-chart" }, chart),
    h("h2", {}, `Validators (${brain.validators.length})`),
    h(
      "table",
      { id: "validators" },
      h("thead", {}, h("tr", {}, ...["UID", "Hotkey", "Stake (CBR)", "Dividends", "Take", "Commit (now)", "Commit (prev)", "Reveal (prev)"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...validatorRows),
    ),
    h("h2", {}, `Miners (${brain.miners.length})`),
    h("table", { id: "miners" }, thead, tbody),
  );
}

/** "18%", or "0% → 20% from block 1234" while a raise is pending (raises apply only after a delay). */
function takeText(t: { bps: number; nextBps: number; fromBlock: bigint | null }): string {
  const now = `${t.bps / 100}%`;
  return t.fromBlock === null ? now : `${now} → ${t.nextBps / 100}% from block ${t.fromBlock}`;
}

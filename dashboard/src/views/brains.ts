/** Brains list + emission schedule + recent activity (three event feeds). */
import {
  getEmissionSchedule,
  listBrains,
  recentEvents,
  type CerberusReader,
  type FeedEvent,
} from "../../../nodes/sdk/index.ts";
import { settledText } from "../settlement.ts";
import { cbr, h, kv, short } from "../ui.ts";

function describe(e: FeedEvent): string {
  switch (e.kind) {
    case "NeuronRegistered":
    case "NeuronDeregistered":
    case "NeuronPruned":
      return `${e.kind.replace("Neuron", "")} ${e.role} #${e.uid} in Brain ${e.brainId} (${short(e.hotkey)})`;
    case "Staked":
      return `${short(e.staker)} staked ${cbr(e.amount)} CBR on ${short(e.hotkey)}`;
    case "Unbonding":
      return `${short(e.staker)} unbonding ${cbr(e.amount)} CBR from ${short(e.hotkey)} until block ${e.releaseBlock}`;
    case "Withdrawn":
      return `${short(e.staker)} withdrew ${cbr(e.amount)} CBR`;
    case "EpochSettled":
      return settledText(e);
  }
}

export async function renderBrains(r: CerberusReader, view: HTMLElement, alive: () => boolean): Promise<void> {
  const head = await r.client.getBlockNumber();
  const [list, schedule, regs, stakes, settles] = await Promise.all([
    listBrains(r, { limit: 100 }),
    getEmissionSchedule(r, { head }),
    recentEvents(r, "registrations", { toBlock: head, limit: 6 }),
    recentEvents(r, "stakes", { toBlock: head, limit: 6 }),
    recentEvents(r, "settlements", { toBlock: head, limit: 6 }),
  ]);
  if (!alive()) return;
  const rows = list.brains.map((b) =>
    h(
      "tr",
      { "data-brain": String(b.id) },
      h("td", {}, h("a", { href: `#/brain/${b.id}` }, `Brain #${b.id}`), b.active ? null : h("span", { class: "no", "data-inactive": "" }, " (deregistered)")),
      h("td", { class: "mono", title: b.owner }, short(b.owner)),
      h("td", { class: "mono", title: b.modelHash }, short(b.modelHash)),
      h("td", {}, b.uri),
      h("td", { class: "num", "data-miners": b.minerCount }, `${b.minerCount} / ${b.limits.maxMiners}`),
      h("td", { class: "num", "data-validators": b.validatorCount }, `${b.validatorCount} / ${b.limits.maxValidators}`),
      h("td", { class: "num" }, b.tempo),
    ),
  );
  const feed = (title: string, events: FeedEvent[]) =>
    h(
      "div",
      { class: "card" },
      h("h3", {}, title),
      events.length === 0
        ? h("p", { class: "muted" }, "none yet")
        : h("ul", { class: "feed" }, ...events.map((e) => h("li", {}, h("span", { class: "muted" }, `#${e.blockNumber} `), describe(e)))),
    );
  const split = schedule.split;
  view.replaceChildren(
    h("h1", {}, `Brains (${list.total})`),
    h(
      "table",
      { id: "brains" },
      h("thead", {}, h("tr", {}, ...["Brain", "Owner", "Model", "URI", "Miners", "Validators", "Tempo"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...rows),
    ),
    list.total === 0n ? h("p", { class: "muted" }, "No Brains minted yet.") : "",
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Emission"),
        kv([
          ["Block", String(schedule.head)],
          ["Reward / block", `${cbr(schedule.rewardPerBlock)} CBR (era ${schedule.era})`],
          ["Next halving", `block ${schedule.nextHalvingBlock}`],
          ["Minted / cap", `${cbr(schedule.totalMinted, 2)} / ${cbr(schedule.emissionCap, 0)} CBR`],
          ["Split owner / miners / validators", `${split.ownerBps / 100}% / ${split.minerBps / 100}% / ${split.validatorBps / 100}%`],
          ["Active Brains", String(schedule.activeBrains)],
          ["Brain mint price now", h("span", { id: "brain-price", "data-wei": String(schedule.brainPrice) }, `${cbr(schedule.brainPrice)} CBR burned`)],
        ]),
      ),
      feed("Recent settlements", settles),
      feed("Recent registrations", regs),
      feed("Recent stakes", stakes),
    ),
  );
}

/**
 * Dashboard entry: loads the deployment, builds a reader over /rpc and routes by URL hash:
 *   #/                 Brains list, emission schedule, recent activity
 *   #/brain/<id>       one Brain: epoch state, incentive chart, validators' commit/reveal, sortable neurons
 *   #/staker[/<addr>]  a staker's positions and claimable rewards; stake/delegate through an injected wallet
 *   #/generate[/<id>]  private generation: CKKS keys in the page, a miner over libp2p WebSockets
 * When a page has finished loading, <body data-ready="<page>"> is set (the browser test waits on it).
 */
import { httpReader, parseDeployment, type CerberusReader } from "../../nodes/sdk/index.ts";
import { errorBox, h } from "./ui.ts";
import { renderBrains } from "./views/brains.ts";
import { renderBrain } from "./views/brain.ts";
import { renderStaker } from "./views/staker.ts";
import { renderGenerate } from "./views/generate.ts";

const app = document.getElementById("app") as HTMLElement;
let generation = 0;

async function route(reader: CerberusReader): Promise<void> {
  const gen = ++generation;
  delete document.body.dataset.ready;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const view = h("section", { class: "view" }, h("p", { class: "muted" }, "Loading…"));
  app.replaceChildren(view);
  let page = "brains";
  try {
    if (parts[0] === "brain" && parts[1]) {
      page = "brain";
      if (!/^\d+$/.test(parts[1])) throw new Error(`not a Brain id: ${parts[1]}`);
      await renderBrain(reader, view, BigInt(parts[1]), () => gen === generation);
    } else if (parts[0] === "generate") {
      page = "generate";
      await renderGenerate(reader, view, parts[1], () => gen === generation);
    } else if (parts[0] === "staker") {
      page = "staker";
      await renderStaker(reader, view, parts[1], () => gen === generation);
    } else {
      await renderBrains(reader, view, () => gen === generation);
    }
  } catch (err) {
    if (gen !== generation) return;
    console.error(err);
    view.replaceChildren(errorBox(err));
  }
  if (gen === generation) document.body.dataset.ready = page;
}

async function boot(): Promise<void> {
  const res = await fetch("/deployment.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`deployment.json: HTTP ${res.status} ${await res.text()}`);
  const deployment = parseDeployment(await res.json());
  const reader = httpReader(new URL("/rpc", location.href).href, deployment);
  const status = document.getElementById("chain-status");
  if (status) status.textContent = `chain ${deployment.chainId}`;
  window.addEventListener("hashchange", () => void route(reader));
  await route(reader);
}

boot().catch((err: unknown) => {
  console.error(err);
  app.replaceChildren(errorBox(err));
  document.body.dataset.ready = "error";
});

/**
 * Generate: private text generation from the browser. The page reads the Brain from the chain, ranks its miners by
 * incentive (keeping those with a /ws address), checks the model files against the Brain's hashes, creates the CKKS
 * keys here (the secret key never leaves the page) and talks to a miner directly over libp2p WebSockets, failing
 * over to the next miner if one fails. The heavy parts (SEAL, libp2p) load only when generating.
 */
import { getBrain, type CerberusReader } from "../../../nodes/sdk/index.ts";
import { isWebSocketAddr, rankMiners } from "../../../nodes/client/miners.ts";
import { displayToken } from "../../../nodes/model/vocab.ts";
import type { GeneratedWord } from "../../../nodes/client/generate.ts";
import type { LmMixture } from "../../../nodes/model/mixture.ts";
import { COMPRESSED_WORKLOAD, DASHBOARD_DEFAULT_WORDS, USER_WORKLOAD } from "../../../nodes/client/workload.ts";
import { errorBox, h, kv, plural, short } from "../ui.ts";
import { modelCardFor } from "../generate/models.ts";

const DEFAULT_MODEL = "brown-lm";

const kb = (bytes: number): string => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`);
const ms = (x: number): string => `${Math.round(x)} ms`;
const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

type KeygenInfo = { keyBytes: number; setupMs: number; keygenMs: number };
// Read through a function: the callback that fills it is invisible to TypeScript's narrowing.
const keysOf = (holder: { last?: KeygenInfo }): KeygenInfo | undefined => holder.last;

/** A local chain (Hardhat) or a page served from this machine: its miners listen on loopback/private ws. */
function isLocal(chainId: number): boolean {
  return chainId === 31337 || /^(127\.|localhost$|\[::1\]$)/.test(location.hostname);
}

export async function renderGenerate(r: CerberusReader, view: HTMLElement, brainParam: string | undefined,
  alive: () => boolean): Promise<void> {
  if (brainParam !== undefined && !/^\d+$/.test(brainParam)) throw new Error(`not a Brain id: ${brainParam}`);
  const brainId = BigInt(brainParam ?? "1");
  const brain = await getBrain(r, brainId);
  if (!alive()) return;
  const miners = rankMiners(brain.miners, isWebSocketAddr);

  const prompt = h("textarea", { id: "prompt", rows: 3, cols: 60, placeholder: "the jury said" }) as HTMLTextAreaElement;
  prompt.value = "the jury said";
  const num = (id: string, value: string, attrs: Record<string, string | number> = {}) =>
    h("input", { id, type: "number", value, style: "width: 5em", ...attrs }) as HTMLInputElement;
  const words = num("words", String(DASHBOARD_DEFAULT_WORDS), { min: 1, max: 200, step: 1 });
  // Empty = the model's shipped sampler (its mixture.json, chosen per model by `npm run train`).
  const topK = num("top-k", "", { min: 1, step: 1, placeholder: "shipped" });
  const temperature = num("temperature", "", { min: 0.05, step: 0.05, placeholder: "shipped" });
  const card = await modelCardFor(brain).catch(() => undefined);
  if (!alive()) return;
  const modelName = h("input", { id: "model-name", type: "text", value: card?.name ?? DEFAULT_MODEL, style: "width: 8em" }) as HTMLInputElement;
  const fmt = (v: number | null, unit: string, digits = 0) => (v === null ? "not measured" : `${v.toFixed(digits)}${unit}`);
  const modelInfo = card === undefined
    ? h("p", { id: "model-card", class: "muted", "data-kind": "unknown" }, `No model file here hashes to this Brain's modelHash ${short(brain.modelHash)}.`)
    : h("p", { id: "model-card", "data-kind": card.kind, "data-name": card.name },
      `Model: ${card.name} — ${card.kind === "transformer" ? `transformer, ${card.cost.rounds ?? "?"} rounds a word (the page applies the softmax between rounds)` : "Bengio MLP, one step a word"}. ` +
      `Test perplexity ${fmt(card.perplexity.value, "", 1)} (${card.perplexity.what}). ` +
      `Cost per word: ${fmt(card.cost.msPerWord, " ms")}, ${fmt(card.cost.kibPerWord, " KiB")} up + down, keys ${fmt(card.cost.keysMiB, " MiB", 1)} once (${card.cost.source}).`);
  const mix = h("input", { id: "mixture", type: "checkbox" }) as HTMLInputElement;
  mix.checked = true;
  const go = h("button", { id: "generate-btn", type: "submit" }, "Generate") as HTMLButtonElement;
  const stop = h("button", { id: "stop-btn", type: "button", disabled: true }, "Stop") as HTMLButtonElement;
  const progress = h("p", { id: "progress", class: "muted", "data-phase": "idle" }, "");
  const output = h("p", { id: "output", class: "generated" });
  const stats = h("div", { id: "gen-stats" });
  const failovers = h("ul", { id: "failovers" });
  const errors = h("div", { id: "gen-error" });

  const setPhase = (phase: string, text: string) => {
    progress.dataset.phase = phase;
    progress.textContent = text;
  };

  let controller: AbortController | undefined;
  const keygen: { last?: KeygenInfo } = {};
  stop.addEventListener("click", () => controller?.abort());

  const onSubmit = async (ev: Event) => {
    ev.preventDefault();
    if (controller !== undefined) return;
    errors.replaceChildren();
    failovers.replaceChildren();
    stats.replaceChildren();
    delete stats.dataset.result;
    controller = new AbortController();
    go.disabled = true;
    stop.disabled = false;
    const text = prompt.value.trim();
    const promptSpan = h("span", { class: "prompt" }, text);
    output.replaceChildren(promptSpan);
    const seen: GeneratedWord[] = [];
    let lastPromptToken: string | undefined;
    let keyInfo = "";
    delete keygen.last;
    try {
      if (text.length === 0) throw new Error("type a prompt first");
      const n = Number(words.value);
      const k = topK.value.trim() === "" ? undefined : Number(topK.value);
      const t = temperature.value.trim() === "" ? undefined : Number(temperature.value);
      if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error("words must be an integer from 1 to 200");
      if (k !== undefined && (!Number.isInteger(k) || k < 1)) throw new Error("top-k must be a positive integer");
      if (t !== undefined && !(t > 0)) throw new Error("temperature must be > 0");
      if (brain.miners.length === 0) throw new Error(`Brain #${brainId} has no miners registered yet: nobody can serve it`);
      if (miners.length === 0) {
        throw new Error(`none of Brain #${brainId}'s ${plural(brain.miners.length, "miner")} registered a WebSocket (/ws) ` +
          "address, and a browser can dial only those");
      }
      setPhase("loading", "Loading the client (SEAL, libp2p) and the model; checking it against the Brain's hashes…");
      const engine = await import("../generate/engine.ts");
      const model = await engine.loadModel(modelName.value.trim() || DEFAULT_MODEL, brain);
      const promptTokens = model.client.tokenize(text);
      if (promptTokens.length === 0) throw new Error("the prompt has no words");
      lastPromptToken = promptTokens.at(-1);
      let mixed: { mixture: LmMixture; buildMs: number } | undefined;
      if (mix.checked) {
        setPhase("mixture", "Building the client mixture (Kneser-Ney trigram counts over the train split) in this page…");
        mixed = await engine.loadMixture(model);
      }
      setPhase("keygen", "Generating CKKS keys in this page (the secret key stays here)…");
      const sessions: { index: number; steps: number; padding: number }[] = [];
      const result = await engine.run({
        model, miners, prompt: text, words: n, allowPrivate: isLocal(r.deployment.chainId),
        // The request is split into sessions as the Brain's validators split their probes: `npm start`'s local
        // network probes with the time-compressed model, a public network with the user model.
        workload: isLocal(r.deployment.chainId) ? COMPRESSED_WORKLOAD : USER_WORKLOAD,
        onSession: (sess) => { sessions.push(sess); },
        ...(k !== undefined ? { topK: k } : {}), ...(t !== undefined ? { temperature: t } : {}),
        ...(mixed !== undefined ? { mixture: mixed.mixture } : {}),
        signal: controller.signal,
        onKeys: (keys) => {
          keygen.last = keys;
          keyInfo = `keys ${kb(keys.keyBytes)} (generated in ${ms(keys.setupMs + keys.keygenMs)})`;
          setPhase("uploading", `Uploading ${keyInfo} to miner ${short(miners[0]!.peerId)}…`);
        },
        onWord: (w) => {
          // Shown as text reads (curly quotes, punctuation against its word); data-id keeps the token.
          const { space, text: shown } = displayToken(w.word, seen.at(-1)?.word ?? lastPromptToken);
          seen.push(w);
          output.append(space ? " " : "", h("span", { class: "word", "data-id": w.id, "data-ms": Math.round(w.ms), title: `${Math.round(w.ms)} ms` }, shown));
          const steady = seen.slice(1).map((x) => x.ms);
          setPhase("generating", `word ${w.index + 1}/${n} · ${ms(w.ms)}${w.index === 0 ? " (incl. key upload)" : ""} · ` +
            `${steady.length > 0 ? `${ms(median(steady))}/word · ` : ""}↑ ${kb(w.bytesUp)} ↓ ${kb(w.bytesDown)} per word · ` +
            `${keyInfo} · miner ${short(w.miner)}`);
          const padding = sessions.at(-1)?.padding ?? 0;
          if (w.index + 1 === n && padding > 0) {
            setPhase("padding", `All ${n} words are here; finishing ${plural(padding, "padding step")} (discarded) so the miner cannot tell how many you asked for…`);
          }
        },
        onSelect: (choice) => {
          // Miners whose health failed, or that state another plan or too long a wait, are tried last (if at all).
          for (const [peerId, why] of choice.unfit) {
            const code = /[A-Z_]{4,}/.exec(why)?.[0] ?? "UNFIT";
            failovers.append(h("li", { "data-unfit": code }, `miner ${short(peerId)} skipped at selection: ${why}`));
          }
        },
        onFailover: (e) => {
          failovers.append(h("li", { "data-failover": e.error.code },
            `miner ${short(e.from.peerId)} failed during ${e.phase} (${e.error.code}: ${e.error.message.slice(0, 200)}) → ` +
            `${e.to ? `trying ${short(e.to.peerId)}` : "no miner left"}`));
        },
      });
      const steady = result.words.slice(1).map((w) => w.ms);
      const perWord = {
        medianMs: median(result.words.map((w) => w.ms)),
        steadyMedianMs: median(steady),
        bytesUp: median(result.words.map((w) => w.bytesUp)),
        bytesDown: median(result.words.map((w) => w.bytesDown)),
      };
      setPhase("done", `${plural(result.words.length, "word")} · ${ms(Number.isNaN(perWord.steadyMedianMs) ? perWord.medianMs : perWord.steadyMedianMs)}/word · ` +
        `↑ ${kb(perWord.bytesUp)} ↓ ${kb(perWord.bytesDown)} per word · keys ${kb(result.keyBytes)} uploaded in ${ms(result.keyUploadMs)} · ` +
        `${plural(result.sessions, "session")} (+${result.paddingWords} padding) · ${plural(result.failovers, "failover")}`);
      stats.dataset.result = JSON.stringify({
        words: result.words.map((w) => ({ id: w.id, word: w.word, ms: w.ms, bytesUp: w.bytesUp, bytesDown: w.bytesDown, miner: w.miner })),
        keyBytes: result.keyBytes, keyUploadMs: result.keyUploadMs, failovers: result.failovers,
        sessionsOpened: result.sessionsOpened, sessions: result.sessions, paddingWords: result.paddingWords, sealLoadMs: result.sealLoadMs, keygen: keysOf(keygen), perWord,
        mixture: mixed !== undefined, mixtureBuildMs: mixed?.buildMs ?? null,
      });
      stats.replaceChildren(kv([
        ["Miner", h("span", { class: "mono" }, result.words.at(-1)?.miner ?? "")],
        ["Sampled from", mixed !== undefined
          ? `the client mixture (MLP + KN trigram + cache; counts built in ${ms(mixed.buildMs)}, once per page)` : "the MLP alone"],
        ["SEAL load", ms(result.sealLoadMs)],
        ["Key generation", keysOf(keygen) ? `${ms(keysOf(keygen)!.setupMs)} context + secret key, ${ms(keysOf(keygen)!.keygenMs)} evaluation keys` : ""],
        ["Key upload", `${kb(result.keyBytes)} in ${ms(result.keyUploadMs)} (${plural(result.sessionsOpened, "session")})`],
        ["Sessions", `${result.sessions}: ${sessions.map((x) => x.steps).join(" + ")} steps, the last ${result.paddingWords} discarded ` +
          "(each session has fresh keys and a fresh identity, so a miner cannot see how many words you asked for)"],
        ["Per word", `${ms(perWord.steadyMedianMs)} median after the first (first ${ms(result.words[0]?.ms ?? 0)}), ↑ ${kb(perWord.bytesUp)} ↓ ${kb(perWord.bytesDown)}`],
      ]));
    } catch (err) {
      console.warn(err);
      setPhase("error", "Generation failed.");
      errors.replaceChildren(errorBox(err));
    } finally {
      controller = undefined;
      go.disabled = false;
      stop.disabled = true;
    }
  };
  const form = h("form", { id: "generate-form", onsubmit: (ev: Event) => void onSubmit(ev) },
    h("label", {}, "Prompt", h("br", {}), prompt),
    h("div", { class: "row" },
      h("label", {}, "Words ", words), " ",
      h("label", {}, "Top-k ", topK), " ",
      h("label", {}, "Temperature ", temperature), " ",
      h("label", {}, "Model files ", modelName), " ",
      h("label", { title: "mix the decrypted MLP distribution with a Kneser-Ney trigram and a cache, in this page" },
        mix, " client mixture"), " ",
      go, " ", stop),
  );

  view.replaceChildren(
    h("h1", {}, `Generate privately · Brain #${brain.id} ${brain.uri ? `(${brain.uri})` : ""}`),
    h("p", { class: "muted" },
      "Your prompt and the generated words never leave this page in the clear: the CKKS keys are generated here, the " +
      "miner receives only public evaluation keys and ciphertexts, and this page decrypts the logits."),
    h("p", { id: "mixture-note", class: "muted" },
      "With \"client mixture\" (the default, as in the CLI) this page samples from the shipped distribution: the " +
      "decrypted model distribution mixed with a Kneser-Ney trigram and a cache of the words so far (docs/MODEL.md), " +
      "built here from the train split; the miner's work and what it sees are the same either way."),
    modelInfo,
    h("p", { id: "miner-count", "data-count": miners.length },
      `${plural(miners.length, "miner")} reachable from the browser (of ${brain.miners.length}), tried in order of on-chain incentive.`),
    form, progress, output, errors, failovers, stats,
  );
}

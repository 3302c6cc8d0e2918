/** Tiny DOM helpers and formatters (no framework: the pages are a few tables and forms). */
import { formatUnits } from "viem";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** CBR (18 decimals) with at most `digits` fraction digits. */
export function cbr(wei: bigint, digits = 4): string {
  const s = formatUnits(wei, 18);
  const [i, f = ""] = s.split(".");
  const frac = f.slice(0, digits).replace(/0+$/, "");
  return `${i.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${frac ? "." + frac : ""}`;
}

export const short = (a: string): string => (a.length > 14 ? `${a.slice(0, 6)}…${a.slice(-4)}` : a);
/** "1 hotkey", "2 hotkeys". */
export const plural = (n: number | bigint, noun: string): string => `${n} ${noun}${n === 1 || n === 1n ? "" : "s"}`;
export const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

export function kv(rows: [string, Child][]): HTMLElement {
  return h("dl", { class: "kv" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function errorBox(err: unknown): HTMLElement {
  const code = typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : "";
  const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return h("div", { class: "error", "data-error": code || "error" }, code ? `${code}: ${msg}` : msg);
}

/** The model cards the dashboard's server lists at /models/index.json (light: no SEAL, no libp2p). */
async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** One entry of the dashboard's /models/index.json (vite.config.ts modelIndex). */
export interface ModelCard {
  name: string; kind: "mlp" | "transformer"; modelHash: string;
  perplexity: { value: number | null; what: string };
  cost: { rounds: number | null; msPerWord: number | null; kibPerWord: number | null; keysMiB: number | null; source: string };
}

/** The model files served for this Brain: the one whose ONNX hashes to its modelHash. */
export async function modelCardFor(brain: { modelHash: string }): Promise<ModelCard | undefined> {
  const cards = (await fetchJson("/models/index.json")) as ModelCard[];
  return cards.find((c) => c.modelHash.toLowerCase() === brain.modelHash.toLowerCase());
}


import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The off-chain code is layered, and every import points down (docs/ARCHITECTURE.md "Layers"):
 *
 *   core → chain-artifacts, model, fhe → sdk, net, train → chain → client → miner, validator → apps
 *
 * Apps are the CLI (nodes/cli.ts, nodes/cli/), the demo, the dashboard and scripts/. A module may import its own
 * folder and any lower layer; peers within a layer below the apps stay independent of each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["nodes/core"],
  ["nodes/chain-artifacts", "nodes/model", "nodes/fhe"],
  ["nodes/sdk", "nodes/net", "nodes/train"],
  ["nodes/chain"],
  ["nodes/client"],
  ["nodes/miner", "nodes/validator"],
  ["nodes/cli", "nodes/cli.ts", "nodes/demo", "dashboard", "scripts"],
];
const APPS = LAYERS.length - 1;
const root = resolve(new URL("../..", import.meta.url).pathname);

/** The layer unit (a folder of LAYERS, or nodes/cli.ts) a repository path belongs to, or undefined. */
function unitOf(path: string): { unit: string; rank: number } | undefined {
  for (const [rank, units] of LAYERS.entries()) {
    for (const unit of units) if (path === unit || path.startsWith(unit + "/")) return { unit, rank };
  }
  return undefined;
}

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    if (name === "node_modules" || name.startsWith(".")) return [];
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.(ts|mts|mjs)$/.test(name) ? [path] : [];
  });
}

/** Relative specifiers of static imports, re-exports and literal dynamic imports (type-only imports count too). */
export function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.{1,2}\/[^"']+)\1/gm)) found.push(m[2]!);
  return found;
}

interface Arrow { from: string; to: string; why: string }

function arrowsAgainstTheLayers(): Arrow[] {
  const bad: Arrow[] = [];
  const files = [...sources("nodes"), ...sources("dashboard"), ...sources("scripts")];
  for (const file of files) {
    const from = unitOf(file);
    if (from === undefined) continue;
    for (const spec of relativeImports(readFileSync(join(root, file), "utf8"))) {
      const target = relative(root, resolve(root, dirname(file), spec));
      const to = unitOf(target);
      if (to === undefined || to.unit === from.unit) continue;
      if (to.rank > from.rank) bad.push({ from: file, to: target, why: `${from.unit} (layer ${from.rank}) imports ${to.unit} (layer ${to.rank}) above it` });
      else if (to.rank === from.rank && from.rank !== APPS) bad.push({ from: file, to: target, why: `${from.unit} imports its peer ${to.unit}` });
    }
  }
  return bad;
}

test("every import in nodes/, dashboard/ and scripts/ points down the layers (none up, none sideways below the apps)", () => {
  const bad = arrowsAgainstTheLayers();
  assert.deepEqual(bad.map((a) => `${a.from} → ${a.to}: ${a.why}`), []);
});

test("every folder under nodes/ has a layer (a new folder must be placed before it is used)", () => {
  const folders = readdirSync(join(root, "nodes")).filter((n) => statSync(join(root, "nodes", n)).isDirectory() && n !== "node_modules");
  assert.deepEqual(folders.filter((f) => unitOf(`nodes/${f}`) === undefined), []);
});

test("the layer check sees imports of every form, so it can fail", () => {
  const text = [
    'import { a } from "../sdk/index.ts";',
    'import type { B } from "../client/x.ts";',
    'export { c } from "./c.ts";',
    'const m = await import("../miner/agent.ts");',
    'import "../core/polyfills.ts";',
    'const s = "from ../not/an/import";',
  ].join("\n");
  assert.deepEqual(relativeImports(text), ["../sdk/index.ts", "../client/x.ts", "./c.ts", "../miner/agent.ts", "../core/polyfills.ts"]);
  assert.equal(unitOf("nodes/sdk/index.ts")?.rank, 2);
  assert.ok((unitOf("nodes/client/generate.ts")?.rank ?? -1) > (unitOf("nodes/chain/client.ts")?.rank ?? 99));
});

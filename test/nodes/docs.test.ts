import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, resolve } from "node:path";

/**
 * The user-facing documentation stays a front page plus topic pages that hold together:
 *  - README.md is at most 25 KB;
 *  - every relative link (and image) in README.md, CHANGELOG.md and docs/*.md points at a file in the repository,
 *    and every `#anchor` into a markdown file names one of its headings (GitHub's slug rules);
 *  - README.md and docs/*.md carry no internal work-item references ("issue 14", "§7", the design briefs);
 *  - every name written like a code constant in their prose (UPPER_SNAKE: an error code, an environment variable)
 *    exists in the sources, so an unfilled template slot ("SAMPLE_MLP") cannot ship.
 * The helpers are exported and tested on bad input below, so each check is known to be able to fail.
 */
const root = resolve(new URL("../..", import.meta.url).pathname);
export const README_MAX_BYTES = 25_000;

/** Repository-relative paths of the pages whose links are checked, and of those that must carry no work items. */
function userDocs(): string[] {
  const docs = readdirSync(join(root, "docs")).filter((n) => n.endsWith(".md")).sort().map((n) => `docs/${n}`);
  return ["README.md", ...docs];
}

/** Fenced code blocks (``` or ~~~) blanked out, keeping the line count. */
export function withoutFences(md: string): string {
  const out: string[] = [];
  let fence: { char: string; len: number } | undefined;
  for (const line of md.split("\n")) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === undefined) {
      if (m) fence = { char: m[1]![0]!, len: m[1]!.length };
      out.push(m ? "" : line);
    } else {
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.len && line.trim() === m[1]) fence = undefined;
      out.push("");
    }
  }
  return out.join("\n");
}

/** Inline code spans blanked out (a run of n backticks closes at the next run of exactly n). */
export function withoutCodeSpans(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] !== "`") {
      out += text[i++];
      continue;
    }
    let n = 0;
    while (text[i + n] === "`") n++;
    let j = i + n;
    let close = -1;
    while (j < text.length) {
      if (text[j] !== "`") { j++; continue; }
      let k = 0;
      while (text[j + k] === "`") k++;
      if (k === n) { close = j; break; }
      j += k;
    }
    if (close === -1) {
      out += text.slice(i, i + n);
      i += n;
    } else {
      out += " ".repeat(close + n - i);
      i = close + n;
    }
  }
  return out;
}

/** GitHub's heading anchor (github-slugger): lower case, drop everything but letters, marks, numbers, `_`, `-` and
 * spaces, then each space becomes a hyphen. */
export function githubSlug(headingText: string): string {
  return headingText.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** The text GitHub renders for a heading's markdown source (links and images → their text, no code or emphasis marks). */
function headingText(source: string): string {
  return source
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/[`*]/g, "")
    .trim();
}

/** Every anchor a markdown page offers: its headings' slugs (duplicates numbered -1, -2, … as GitHub does) and HTML ids. */
export function anchorsOf(md: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = withoutFences(md);
  for (const line of text.split("\n")) {
    const h = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!h) continue;
    const base = githubSlug(headingText(h[1]!));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of withoutCodeSpans(text).matchAll(/<a\s[^>]*\b(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** Link targets of a markdown page, outside code: inline links and images, and reference definitions. */
export function linkTargets(md: string): string[] {
  const text = withoutCodeSpans(withoutFences(md));
  const found: string[] = [];
  for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) found.push(m[1]!.replace(/^<|>$/g, ""));
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*(\S+)/gm)) found.push(m[1]!);
  return found;
}

export interface DocsView {
  exists(path: string): boolean;
  read(path: string): string;
}

/** What is wrong with the relative links of `file` (repository-relative): missing files, links that leave the
 * repository, anchors that name no heading. External links (a scheme, or `//`) are not checked. */
export function linkProblems(file: string, md: string, view: DocsView): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
    const hash = target.indexOf("#");
    const pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const path = pathPart === "" ? file
      : normalize(pathPart.startsWith("/") ? pathPart.slice(1) : join(dirname(file), pathPart)).replace(/\/$/, "");
    if (path.startsWith("..") || isAbsolute(path)) {
      problems.push(`${file}: ${target} points outside the repository`);
      continue;
    }
    if (!view.exists(path)) {
      problems.push(`${file}: ${target} → no such file ${path}`);
      continue;
    }
    if (anchor !== undefined && anchor !== "" && path.endsWith(".md") && !anchorsOf(view.read(path)).has(anchor)) {
      problems.push(`${file}: ${target} → ${path} has no heading with anchor #${anchor}`);
    }
  }
  return problems;
}

/** UPPER_SNAKE names in a page's prose (fences and code spans left out), each once. */
export function constantNames(md: string): string[] {
  return [...new Set(withoutCodeSpans(withoutFences(md)).match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? [])];
}

/** The text of every source file a doc can name a constant from. */
function sourcesText(): string {
  const parts: string[] = [readFileSync(join(root, "package.json"), "utf8")];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) { if (e.name !== "node_modules") walk(path); }
      // This file names template slots in its own known-input check: it does not count as a source.
      else if (/\.(ts|mts|mjs|js|sol)$/.test(e.name) && path !== "test/nodes/docs.test.ts") parts.push(readFileSync(join(root, path), "utf8"));
    }
  };
  for (const dir of ["nodes", "scripts", "contracts", "dashboard", "test"]) if (existsSync(join(root, dir))) walk(dir);
  return parts.join("\n");
}

/** Internal work-item references that mean nothing to a reader of the repository. */
export function workItemReferences(text: string): string[] {
  const patterns = [/\bissues?[\s-]*#?\d+/gi, /§\s*\d+/g, /\b(?:DESIGN|interfaces|STACK)\.md\b/g, /\/work\/\w+/g];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[0]));
}

export function readmeSizeProblem(bytes: number): string | undefined {
  return bytes > README_MAX_BYTES ? `README.md is ${bytes} bytes, more than ${README_MAX_BYTES}: move detail to docs/` : undefined;
}

const repoView: DocsView = {
  exists: (path) => existsSync(join(root, path)),
  read: (path) => readFileSync(join(root, path), "utf8"),
};

test("README.md is a front page: at most 25 KB", () => {
  const bytes = readFileSync(join(root, "README.md")).length;
  assert.equal(readmeSizeProblem(bytes), undefined);
});

test("every relative link and anchor in README.md, CHANGELOG.md and docs/*.md resolves", () => {
  const pages = [...userDocs(), "CHANGELOG.md"].filter((p) => existsSync(join(root, p)));
  const problems = pages.flatMap((p) => linkProblems(p, repoView.read(p), repoView));
  assert.deepEqual(problems, []);
});

test("README.md and docs/*.md carry no internal work-item references", () => {
  const found = userDocs().flatMap((p) => workItemReferences(repoView.read(p)).map((ref) => `${p}: "${ref}"`));
  assert.deepEqual(found, []);
});

test("every UPPER_SNAKE name in README.md and docs/*.md prose exists in the sources (no unfilled template slot)", () => {
  const sources = sourcesText();
  const unknown = userDocs().flatMap((p) => constantNames(repoView.read(p)).filter((n) => !sources.includes(n)).map((n) => `${p}: ${n}`));
  assert.deepEqual(unknown, []);
});

test("the README links every page in docs/", () => {
  const linked = new Set(linkTargets(repoView.read("README.md")).map((t) => t.split("#")[0]));
  const pages = userDocs().filter((p) => p !== "README.md");
  assert.deepEqual(pages.filter((p) => !linked.has(p)), []);
});

test("the checks can fail: GitHub slugs, anchors, links, work items and size on known input", () => {
  assert.equal(githubSlug("/cerberus/infer/1.0.0"), "cerberusinfer100");
  assert.equal(githubSlug("Choosing a miner and meeting BUSY (users and probes alike)"),
    "choosing-a-miner-and-meeting-busy-users-and-probes-alike");
  assert.equal(githubSlug("Matrix–vector products"), "matrixvector-products");
  assert.equal(githubSlug("A — B"), "a--b");
  assert.equal(githubSlug("snake_case Über 2"), "snake_case-über-2");

  const page = [
    "# Title",
    "## What `npm start` shows",
    "## Emission",
    "### Emission",
    "```sh",
    "# not a heading",
    "```",
    "## [Linked](x.md) **bold**",
  ].join("\n");
  assert.deepEqual([...anchorsOf(page)], ["title", "what-npm-start-shows", "emission", "emission-1", "linked-bold"]);

  const files: Record<string, string> = { "docs/A.md": "# A\n## Real heading\n", "bench/r.json": "{}", "img.png": "" };
  const view: DocsView = { exists: (p) => p in files, read: (p) => files[p]! };
  const doc = [
    "[ok](A.md#real-heading) [ok too](../bench/r.json) ![img](../img.png) [web](https://example.org/x) [self](#top)",
    "[missing](B.md) [bad anchor](A.md#no-such-heading) [outside](../../shared/DESIGN.md) ![gone](pic.png)",
    "`[in code](nowhere.md)`",
    "```",
    "[in a fence](nowhere.md)",
    "```",
    "# Top",
    "[ref]: missing-ref.md",
  ].join("\n");
  assert.deepEqual(linkProblems("docs/X.md", doc, { ...view, exists: (p) => p === "docs/X.md" || view.exists(p),
    read: (p) => (p === "docs/X.md" ? doc : view.read(p)) }), [
    "docs/X.md: B.md → no such file docs/B.md",
    "docs/X.md: A.md#no-such-heading → docs/A.md has no heading with anchor #no-such-heading",
    "docs/X.md: ../../shared/DESIGN.md points outside the repository",
    "docs/X.md: pic.png → no such file docs/pic.png",
    "docs/X.md: missing-ref.md → no such file docs/missing-ref.md",
  ]);

  assert.deepEqual(workItemReferences("met (issue 14); see DESIGN.md §7 and Issue #11, issue-4's table"),
    ["issue 14", "Issue #11", "issue-4", "§7", "DESIGN.md"]);
  assert.deepEqual(workItemReferences("the tissue 14 sample; an issue with 3 causes"), []);

  assert.deepEqual(constantNames("> MLP Brain: SAMPLE_MLP, then TOO_LARGE; `CODE_SPAN` and\n```\nFENCED_NAME\n```\nnot_snake, HTTP"),
    ["SAMPLE_MLP", "TOO_LARGE"]);

  assert.match(readmeSizeProblem(README_MAX_BYTES + 1) ?? "", /more than 25000/);
  assert.equal(readmeSizeProblem(README_MAX_BYTES), undefined);
});

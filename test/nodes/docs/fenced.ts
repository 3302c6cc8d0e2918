/**
 * The shell commands the docs show (```sh blocks in README.md and docs/*.md) and how CI checks each. Every block
 * carries a directive in an HTML comment on the line before it, invisible on GitHub:
 *
 *   <!-- check: walkthrough -->                     run as shown, in document order, by walkthrough.test.ts
 *   <!-- check: walkthrough background "text" -->   start it, wait until its output shows "text", stop it at the end
 *   <!-- check: run <command> -->                   CI runs <command> instead (a cheap twin, e.g. `… -- --help`)
 *   <!-- check: ci -->                              CI's own test commands (`npm test`, `npm run test:nodes -- x`)
 *   <!-- check: skip: <reason> -->                  not run, for the reason given
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Directive =
  | { kind: "walkthrough"; background?: string }
  | { kind: "run"; command: string }
  | { kind: "ci" }
  | { kind: "skip"; reason: string };

export interface FencedBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Command lines, blank lines and `#` comments dropped. */
  commands: string[];
  /** The directive, or the problem with it. */
  directive: Directive | { kind: "invalid"; why: string };
}

export function parseDirective(text: string | undefined): FencedBlock["directive"] {
  if (text === undefined) return { kind: "invalid", why: "no <!-- check: … --> directive on the line before the block" };
  const m = /^<!--\s*check:\s*(.*?)\s*-->$/.exec(text.trim());
  if (m === null) return { kind: "invalid", why: "no <!-- check: … --> directive on the line before the block" };
  const body = m[1]!;
  if (body === "walkthrough") return { kind: "walkthrough" };
  const bg = /^walkthrough background "([^"]+)"$/.exec(body);
  if (bg) return { kind: "walkthrough", background: bg[1]! };
  if (body === "ci") return { kind: "ci" };
  const run = /^run (.+)$/.exec(body);
  if (run) return { kind: "run", command: run[1]! };
  const skip = /^skip: (.+)$/.exec(body);
  if (skip) return { kind: "skip", reason: skip[1]! };
  return { kind: "invalid", why: `unknown directive "${body}"` };
}

/** Every ```sh block of one markdown text. */
export function fencedBlocks(file: string, text: string): FencedBlock[] {
  const lines = text.split("\n");
  const out: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh\s*$/.test(lines[i]!)) continue;
    let j = i - 1;
    while (j >= 0 && lines[j]!.trim() === "") j--;
    const commands: string[] = [];
    let k = i + 1;
    for (; k < lines.length && !lines[k]!.startsWith("```"); k++) {
      const c = lines[k]!.trim();
      if (c !== "" && !c.startsWith("#")) commands.push(c);
    }
    out.push({ file, line: i + 1, commands, directive: parseDirective(j >= 0 ? lines[j] : undefined) });
    i = k;
  }
  return out;
}

/** The user-facing markdown: README.md and docs/*.md. */
export function docsBlocks(root: string): FencedBlock[] {
  const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
  return files.flatMap((f) => fencedBlocks(f, readFileSync(join(root, f), "utf8")));
}

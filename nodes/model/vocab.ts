/**
 * The browser-safe half of the corpus module: the word vocabulary and the Brown-style tokenizer of user prompts
 * (no file system — the dashboard's Generate page uses it as the CLI does).
 */
import { CerberusError } from "../core/errors.ts";

export class CorpusError extends CerberusError {}

export const UNK_WORD = "<unk>";
export const UNK_ID = 0;

export interface Vocabulary {
  readonly words: readonly string[];
  readonly unkId: number;
  idOf(word: string): number;
}

/** Id lookup over a fixed word list; anything not in the list is the unknown symbol. */
export class WordVocabulary implements Vocabulary {
  readonly words: readonly string[];
  readonly unkId = UNK_ID;
  readonly #ids: Map<string, number>;

  constructor(words: readonly string[]) {
    if (words[UNK_ID] !== UNK_WORD) throw new CorpusError("VOCAB_INVALID", `vocabulary id ${UNK_ID} must be ${UNK_WORD}`);
    this.words = Object.freeze([...words]);
    this.#ids = new Map(words.map((w, i) => [w, i]));
    if (this.#ids.size !== words.length) throw new CorpusError("VOCAB_INVALID", "vocabulary has duplicate words");
  }

  get size(): number {
    return this.words.length;
  }

  idOf(word: string): number {
    return this.#ids.get(word) ?? UNK_ID;
  }

  has(word: string): boolean {
    return this.#ids.has(word);
  }
}

// --- tokenizer for user prompts -------------------------------------------------------------------------------

// Abbreviations that keep their period in Brown (from the corpus' most frequent `X.` tokens). Case-sensitive.
const ABBREVIATIONS = [
  "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Co", "Corp", "Inc", "Ltd", "Fig", "Figs", "fig", "figs", "Sen", "Gov",
  "Gen", "Rev", "Rep", "Lt", "Col", "Capt", "Sgt", "Ave", "Av", "Mt", "Prof", "Messrs", "etc", "vs", "Jan", "Feb",
  "Aug", "Sept", "Oct", "Nov", "Dec", "Calif", "Mass", "Fla", "Pa", "Ill", "Ala", "La", "Tex", "Ariz", "Va", "Kan",
  "Okla", "Atty", "Blvd", "Rd", "Op", "lb", "cm", "mm", "mg", "gm", "ft",
];

const TOKEN_RE = new RegExp(
  [
    "--", // dash (Brown writes dashes as --)
    "``|''", // double quotes, Brown style
    "(?:[A-Za-z]\\.){2,}", // U.S.  p.m.  i.e.  D.C.
    "[A-Z]\\.(?=\\s+[A-Z])", // initials: J. Smith
    `\\b(?:${ABBREVIATIONS.join("|")})\\.(?![A-Za-z])`,
    "\\b[Nn]o\\.(?=\\s*\\d)", // No. 5
    "\\d{1,2}:\\d\\d\\b", // times: 7:30
    "[A-Za-z0-9$]+(?:['\\-.,/&][A-Za-z0-9]+)*%?", // words, contractions (didn't), numbers (3,000 1-1/2 4.5%)
    "\\S", // any other single character: , . ; : ? ! ( ) ' & …
  ].join("|"),
  "g",
);

/**
 * Split free text into Brown-style tokens: punctuation apart, `"` → `` `` `` / `''`, dashes → `--`, contractions and
 * possessives kept whole (`didn't`, `Atlanta's`), common abbreviations keep their period (`Mr.`, `U.S.`).
 * Case is preserved unless `lowercase` is set (it must match the option the splits were loaded with).
 */
export function tokenize(text: string, options: { lowercase?: boolean } = {}): string[] {
  if (typeof text !== "string") throw new CorpusError("BAD_INPUT", "tokenize expects a string");
  const normalised = text
    .normalize("NFKC")
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
    .replace(/[\u2013\u2014\u2015]/g, " -- ")
    .replace(/\u2026/g, "...")
    // An opening double quote is one at the start or after whitespace or an opening bracket.
    .replace(/(^|[\s([{])"/g, "$1 `` ")
    .replace(/"/g, " '' ");
  const tokens = normalised.match(TOKEN_RE) ?? [];
  return options.lowercase === true ? tokens.map((t) => t.toLowerCase()) : tokens;
}

// Tokens written against the word before them, and the ones written against the word after.
const CLOSING = new Set([",", ".", ";", ":", "?", "!", ")", "''", "'", "%"]);
const OPENING = new Set(["(", "``", "$"]);
const DISPLAY: Readonly<Record<string, string>> = { "``": "\u201c", "''": "\u201d", "--": "\u2014" };

/**
 * How a token reads after `previous` (undefined at the start): its display form (`` `` ``/`''` as curly quotes, `--` as
 * an em dash) and whether a space goes before it — none before punctuation that closes, none after a bracket or quote
 * that opens.
 */
export function displayToken(token: string, previous: string | undefined): { space: boolean; text: string } {
  const text = DISPLAY[token] ?? token;
  if (previous === undefined) return { space: false, text };
  if (token === "--") return { space: true, text };
  return { space: !OPENING.has(previous) && !CLOSING.has(token), text };
}

/**
 * Brown-style tokens back to text for people to read (`displayToken` for each). The inverse of `tokenize` up to
 * spacing; what the model sees stays the tokens.
 */
export function detokenize(tokens: readonly string[]): string {
  let out = "";
  tokens.forEach((token, i) => {
    const { space, text } = displayToken(token, tokens[i - 1]);
    out += space ? ` ${text}` : text;
  });
  return out;
}

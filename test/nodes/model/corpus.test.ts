import { test } from "node:test";
import assert from "node:assert/strict";
import {
  loadBrownSplits, loadBrownWords, tokenize, parseTaggedText, buildVocabulary, splitSizes, CorpusError,
  UNK_ID, UNK_WORD, UNK_MAX_TRAIN_COUNT,
} from "../../../nodes/model/corpus.ts";
import { detokenize } from "../../../nodes/model/vocab.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";

test("parseTaggedText strips the tag after the last slash and keeps punctuation", () => {
  assert.deepEqual(parseTaggedText("\tThe/at jury/nn ,/, 1-1/2/cd ``/`` Atlanta's/np$ ./.\n\n"), [
    "The", "jury", ",", "1-1/2", "``", "Atlanta's", ".",
  ]);
  assert.throws(() => parseTaggedText("good/jj bad", "cx01"), (e: unknown) => isCerberusError(e, "CORPUS_PARSE"));
  assert.throws(() => parseTaggedText("trailing/"), CorpusError);
});

test("full corpus: paper split sizes, vocabulary ≤ 16,384 with <unk> at id 0", () => {
  const all = loadBrownWords();
  assert.equal(all.length, 1_161_192); // NLTK's Brown: 500 files
  assert.deepEqual(all.slice(0, 4), ["The", "Fulton", "County", "Grand"]); // ca01 comes first
  const { vocab, train, valid, test: testIds } = loadBrownSplits();
  assert.equal(train.length, 800_000);
  assert.equal(valid.length, 200_000);
  assert.equal(testIds.length, all.length - 1_000_000);
  assert.equal(vocab.unkId, UNK_ID);
  assert.equal(vocab.words[0], UNK_WORD);
  assert.equal(vocab.words.length, 14_114); // case preserved (lower-cased: 13,189)
  assert.ok(vocab.words.length <= 16_384);
  console.log(`# vocab ${vocab.words.length}, train ${train.length}, valid ${valid.length}, test ${testIds.length}`);
  // Every id indexes the vocabulary and rare train words really are unknown.
  const counts = new Map<string, number>();
  for (const w of all.slice(0, 800_000)) counts.set(w, (counts.get(w) ?? 0) + 1);
  for (let i = 0; i < 800_000; i += 997) {
    const w = all[i]!;
    assert.equal(train[i], (counts.get(w)! > UNK_MAX_TRAIN_COUNT ? vocab.idOf(w) : UNK_ID));
    assert.equal(vocab.words[train[i]!] === w, counts.get(w)! > UNK_MAX_TRAIN_COUNT);
  }
  for (const ids of [train, valid, testIds]) for (const id of ids) assert.ok(id >= 0 && id < vocab.words.length);
  assert.equal(vocab.idOf(all[1_000_000]!), testIds[0]);
});

test("splits are cached but each call returns its own id arrays", () => {
  const a = loadBrownSplits({ maxWords: 50_000 });
  const b = loadBrownSplits({ maxWords: 50_000 });
  assert.equal(a.vocab, b.vocab);
  a.train[0] = 12345;
  assert.notEqual(b.train[0], 12345);
});

test("maxWords slices keep the paper's proportions", () => {
  const total = loadBrownWords().length;
  const s = loadBrownSplits({ maxWords: 20_000 });
  assert.equal(s.train.length + s.valid.length + s.test.length, 20_000);
  assert.deepEqual({ train: s.train.length, valid: s.valid.length, test: s.test.length }, splitSizes(20_000, total));
  assert.equal(s.train.length, Math.floor((20_000 * 800_000) / total));
  assert.ok(s.vocab.words.length > 100 && s.vocab.words.length < 2000);
});

test("bad options are a typed error", () => {
  assert.throws(() => loadBrownSplits({ maxWords: 3 }), (e: unknown) => isCerberusError(e, "BAD_OPTIONS"));
  assert.throws(() => loadBrownSplits({ maxWords: 1.5 }), CorpusError);
  assert.throws(() => loadBrownSplits({ nope: true } as never), CorpusError);
});

test("buildVocabulary: count > 3 kept, ordered by count then code units", () => {
  const words = [..."aaaaa bbbb ccc BBBB".split(" ").flatMap((s) => [...s])];
  const v = buildVocabulary(words);
  assert.deepEqual(v.words, [UNK_WORD, "a", "B", "b"]);
  assert.equal(v.idOf("c"), UNK_ID);
  assert.equal(v.idOf("never"), UNK_ID);
});

test("tokenize follows Brown conventions", () => {
  assert.deepEqual(tokenize(`The jury said "it's fine," and Mr. Smith didn't agree -- at 7:30 p.m. in the U.S.`), [
    "The", "jury", "said", "``", "it's", "fine", ",", "''", "and", "Mr.", "Smith", "didn't", "agree", "--", "at",
    "7:30", "p.m.", "in", "the", "U.S.",
  ]);
  assert.deepEqual(tokenize("He paid $3,000 (4.5%) for 1-1/2 acres; J. Smith's dog ran."), [
    "He", "paid", "$3,000", "(", "4.5%", ")", "for", "1-1/2", "acres", ";", "J.", "Smith's", "dog", "ran", ".",
  ]);
  assert.deepEqual(tokenize("“Why?” she asked—twice…"), ["``", "Why", "?", "''", "she", "asked", "--", "twice", ".", ".", "."]);
  assert.deepEqual(tokenize("The End", { lowercase: true }), ["the", "end"]);
  assert.deepEqual(tokenize("   "), []);
  assert.throws(() => tokenize(42 as never), CorpusError);
});

test("detokenize writes tokens back as text people read: punctuation and quotes against their words", () => {
  assert.equal(detokenize(tokenize(`The jury said "it's fine," and Mr. Smith didn't agree -- at 7:30 p.m.`)),
    "The jury said \u201cit's fine,\u201d and Mr. Smith didn't agree \u2014 at 7:30 p.m.");
  assert.equal(detokenize(tokenize("He paid $3,000 (4.5%) for acres; J. Smith's dog ran.")),
    "He paid $3,000 (4.5%) for acres; J. Smith's dog ran.");
  assert.equal(detokenize(["``", "Why", "?", "''", "she", "asked"]), "\u201cWhy?\u201d she asked");
  assert.equal(detokenize([]), "");
});

test("tokenize reproduces most corpus tokens and maps prompts to known ids", () => {
  const { vocab } = loadBrownSplits();
  const words = loadBrownWords().slice(0, 20_000);
  // Re-tokenising the corpus text gives back nearly the same token stream.
  const retok = tokenize(words.join(" "));
  assert.ok(Math.abs(retok.length - words.length) / words.length < 0.01, `${retok.length} vs ${words.length}`);
  const ids = tokenize("The President said that the committee would meet on Friday.").map((w) => vocab.idOf(w));
  assert.ok(ids.every((id) => id !== UNK_ID), JSON.stringify(ids));
});

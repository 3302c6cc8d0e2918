// Mocha reporter for the contract suite: Mocha's spec output, then each test file's wall time, slowest first (its
// hooks included: fixtures deploy in `before`), so the slow files stay visible. Set in hardhat.config.ts.
const Mocha = require("mocha");

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END, EVENT_TEST_FAIL, EVENT_TEST_PASS } = Mocha.Runner.constants;

class FileTimes extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const files = new Map();
    const entry = (file) => {
      let e = files.get(file);
      if (e === undefined) files.set(file, (e = { depth: 0, started: 0, ms: 0, pass: 0, fail: 0 }));
      return e;
    };
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (!suite.file) return;
      const e = entry(suite.file);
      if (e.depth++ === 0) e.started = performance.now();
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      if (!suite.file) return;
      const e = entry(suite.file);
      if (--e.depth === 0) e.ms += performance.now() - e.started;
    });
    runner.on(EVENT_TEST_PASS, (test) => { if (test.file) entry(test.file).pass += 1; });
    runner.on(EVENT_TEST_FAIL, (test) => { if (test.file) entry(test.file).fail += 1; });
    runner.once(EVENT_RUN_END, () => {
      const rows = [...files.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const total = rows.reduce((s, [, e]) => s + e.ms, 0);
      console.log("\n  per-file wall time, slowest first (seconds, share of the total, tests passed/failed):");
      for (const [file, e] of rows) {
        const share = total > 0 ? `${Math.round((100 * e.ms) / total)}%` : "";
        console.log(`  ${(e.ms / 1000).toFixed(1).padStart(6)} s ${share.padStart(4)}  ${require("node:path").relative(process.cwd(), file)}  (${e.pass} passed${e.fail ? `, ${e.fail} FAILED` : ""})`);
      }
      console.log(`  ${(total / 1000).toFixed(1).padStart(6)} s in ${rows.length} files\n`);
    });
  }
}

module.exports = FileTimes;

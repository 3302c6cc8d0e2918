// A node:test reporter that writes, per test file, its wall time (from the runner taking the file off its queue to
// the file's completion, process start-up included) and its top-level pass/fail counts, as JSON lines.
// scripts/test-nodes.mjs prints them as a table at the end of the run, slowest first.
export default async function* fileTimes(source) {
  const files = new Map();
  const entry = (file) => {
    let e = files.get(file);
    if (e === undefined) files.set(file, (e = { file, started: undefined, ms: undefined, pass: 0, fail: 0 }));
    return e;
  };
  for await (const event of source) {
    const { file, name, nesting } = event.data ?? {};
    if (typeof file !== "string") continue;
    const e = entry(file);
    if (name === file) {
      // The file itself, as the runner schedules its process.
      if (event.type === "test:dequeue") e.started = performance.now();
      if (event.type === "test:complete" && e.started !== undefined) e.ms = Math.round(performance.now() - e.started);
    } else if (nesting === 0) {
      if (event.type === "test:pass") e.pass += 1;
      if (event.type === "test:fail") e.fail += 1;
    }
  }
  for (const e of files.values()) yield JSON.stringify({ file: e.file, ms: e.ms ?? null, pass: e.pass, fail: e.fail }) + "\n";
}

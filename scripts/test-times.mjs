// A node:test reporter for `run-tests.mjs --times`: per test file, the summed duration of its
// top-level tests (what the file costs the run, its hooks aside), as one JSON line per file.
export default async function* testTimes(source) {
  const files = new Map();
  for await (const event of source) {
    const data = event.data;
    if (!data?.file || data.nesting !== 0) continue;
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    // In a group (run-tests.mjs), each file is a top-level suite named by its path.
    const file = /\.test\.ts$/.test(data.name) ? data.name : data.file;
    const f = files.get(file) ?? { ms: 0, tests: 0, fail: 0 };
    f.ms += data.details?.duration_ms ?? 0;
    f.tests += 1;
    if (event.type === 'test:fail') f.fail += 1;
    files.set(file, f);
  }
  for (const [file, f] of files) yield `${JSON.stringify({ file, ...f })}\n`;
}

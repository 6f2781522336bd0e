#!/usr/bin/env node
// Finds every *.test.ts under src/ and test/ (Node 20 cannot glob test files itself) and runs them
// with node's test runner (through tsx), in two phases, one after the other:
//
//   1. light: everything else, as many processes at once as the machine has cores, each process
//      running a group of files one after the other (see `grouped` below);
//   2. heavy: the suites that start browsers, kill servers, pack the package, run other
//      projects' tools or use PostgreSQL, half the cores' worth at once (at least two), the slowest
//      first, so that they never pile up on each other or on the light files.
//
// Each phase prints node's report (TAP when not on a terminal); the phases' summaries are held
// back and one combined summary is printed at the end, in node's TAP form (`# tests N`, `# pass N`,
// `# fail N`, ...), so CI and people read one set of figures.
//
//   node scripts/run-tests.mjs                  every file (npm test)
//   node scripts/run-tests.mjs --unit           the unit tests: src/**/*.test.ts that need no PostgreSQL
//   node scripts/run-tests.mjs domain store     only files whose path contains "domain" or "store"
//   node scripts/run-tests.mjs --times ...      also prints the slowest files at the end
//
// TEST_CONCURRENCY overrides the number of cores (e.g. 1 to run file after file).
// TEST_GROUPS=0 runs every light file in a process of its own (to rule out a file disturbing another).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
process.chdir(ROOT);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue; // test/tools holds other projects' packages, and their tests
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Needs PostgreSQL (skips without TEST_DATABASE_URL, fails without it in CI). */
const needsPostgres = (file) => /TEST_DATABASE_URL|support\/postgres\.js/.test(readFileSync(file, 'utf8'));

/** Heavy: a browser, a killed or restarted server, npm pack / git install, Python, other projects' tools. */
const HEAVY = [
  'test/browser/',
  'test/durability/',
  'test/package/',
  'test/examples/',
  'test/openapi/newman',
  'test/openapi/lint',
  'test/openapi/generated-client',
  'test/openapi/postman',
];
const isHeavy = (file) => HEAVY.some((prefix) => file.startsWith(prefix)) || needsPostgres(file);
/** Started first in their phase: they take minutes (npm installs, a compile, many restarts). */
const SLOWEST = ['test/package/', 'test/durability/'];
const slowFirst = (a, b) =>
  Number(SLOWEST.some((p) => b.startsWith(p))) - Number(SLOWEST.some((p) => a.startsWith(p))) ||
  a.localeCompare(b);

/** A unit test: next to the code, no PostgreSQL (no browser, no child process, no real server of ours). */
const isUnit = (file) => file.startsWith('src/') && !needsPostgres(file);

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const times = args.includes('--times');
const filters = args.filter((a) => !a.startsWith('--'));

let files = ['src', 'test'].flatMap((root) => find(root)).sort();
if (unit) files = files.filter(isUnit);
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const cores = Number(process.env['TEST_CONCURRENCY']) || availableParallelism();
const groupsDir = mkdtempSync(join(tmpdir(), 'ic-test-groups-'));
process.on('exit', () => rmSync(groupsDir, { recursive: true, force: true }));

/**
 * The light files in a few shared processes. A process of its own costs a file about 3 s of CPU
 * before its first test: node's start, then loading the code through tsx's module hooks (TypeBox
 * alone is about 680 ES modules, 2 s through the hooks against 0.6 s without). In a group that is
 * paid once. Each file becomes a suite named by its path, so its top-level hooks (before, after)
 * stay its own, and the files of a group run one after the other. Groups are balanced by file size
 * (a rough stand-in for duration), three per core so that a slow group does not hold up the phase.
 */
function grouped(list) {
  if (process.env['TEST_GROUPS'] === '0' || list.length <= cores) return list;
  const groups = Array.from({ length: Math.min(list.length, cores * 3) }, () => ({ files: [], weight: 0 }));
  // A file's weight: its size, plus a base for its own setup (a server, a directory).
  const weight = new Map(list.map((f) => [f, statSync(f).size + 4000]));
  for (const file of [...list].sort((a, b) => weight.get(b) - weight.get(a) || a.localeCompare(b))) {
    const lightest = groups.reduce((a, b) => (b.weight < a.weight ? b : a));
    lightest.files.push(file);
    lightest.weight += weight.get(file);
  }
  return groups.map((group, i) => {
    const entry = join(groupsDir, `group-${i + 1}.test.mjs`);
    const suites = group.files
      .sort()
      .map(
        (f) =>
          `describe(${JSON.stringify(f)}, () => import(${JSON.stringify(pathToFileURL(join(ROOT, f)).href)}));`,
      );
    writeFileSync(entry, `import { describe } from 'node:test';\n${suites.join('\n')}\n`);
    return entry;
  });
}

const phases = [
  { name: 'light', files: grouped(files.filter((f) => !isHeavy(f))), concurrency: cores },
  {
    name: 'heavy',
    files: files.filter(isHeavy).sort(slowFirst),
    concurrency: Math.max(2, Math.floor(cores / 2)),
  },
].filter((p) => p.files.length > 0);

const reporter = process.stdout.isTTY ? 'spec' : 'tap';
const SUMMARY = /^(?:# |ℹ )(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)\s*$/;
const totals = { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
const timings = [];
const timesDir = times ? mkdtempSync(join(tmpdir(), 'ic-test-times-')) : undefined;

function run(phase) {
  const nodeArgs = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${phase.concurrency}`,
    // A backstop for a hung test, not a speed limit: a loaded machine may be several times slower.
    '--test-timeout=900000',
    `--test-reporter=${reporter}`,
    '--test-reporter-destination=stdout',
  ];
  const timesFile = join(timesDir ?? '', `${phase.name}.jsonl`);
  if (timesDir) {
    nodeArgs.push(
      `--test-reporter=${join(ROOT, 'scripts', 'test-times.mjs')}`,
      `--test-reporter-destination=${timesFile}`,
    );
  }
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, ...phase.files], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pending = '';
    const line = (text) => {
      const summary = SUMMARY.exec(text);
      if (summary) {
        const [, name, value] = summary;
        if (name in totals) totals[name] += Number(value);
        return; // held back: one combined summary at the end
      }
      process.stdout.write(`${text}\n`);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) line(l);
    });
    child.on('close', (code, signal) => {
      if (pending) line(pending);
      if (timesDir && existsSync(timesFile)) timings.push(readFileSync(timesFile, 'utf8'));
      resolve({ code: code ?? 1, signal, ms: Date.now() - started });
    });
  });
}

const started = Date.now();
let failed = false;
const phaseTimes = [];
for (const phase of phases) {
  const { code, signal, ms } = await run(phase);
  phaseTimes.push(
    `${phase.name} ${phase.files.length} processes at ${phase.concurrency} at once: ${(ms / 1000).toFixed(1)} s`,
  );
  if (code !== 0) failed = true;
  if (signal) console.error(`the ${phase.name} phase ended on ${signal}`);
}
for (const [name, value] of Object.entries(totals)) console.log(`# ${name} ${value}`);
console.log(`# duration_ms ${Date.now() - started}`);
for (const t of phaseTimes) console.log(`# phase ${t}`);
if (timesDir) {
  rmSync(timesDir, { recursive: true, force: true });
  const rows = timings
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{"file"'))
    .map((l) => JSON.parse(l))
    .sort((a, b) => b.ms - a.ms);
  console.log('# slowest files (summed top-level test durations)');
  for (const r of rows.slice(0, 25)) {
    console.log(`# ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.file.replace(ROOT, '')}`);
  }
}
process.exit(failed || totals.fail > 0 ? 1 : 0);

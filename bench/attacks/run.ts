/**
 * Runs every bench/attacks/*.attack.ts against ATTACK_ROOT (default this checkout), one at a time,
 * and prints a table of their figures. `node --import tsx bench/attacks/run.ts [filter…]`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AttackReport } from './harness.js';

const filters = process.argv.slice(2);
const files = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.attack.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const rows: AttackReport[] = [];
for (const file of files) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, file)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 240_000,
  });
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('{')) rows.push(JSON.parse(line) as AttackReport);
  }
  if (run.status !== 0) console.error(`${file} exited with ${run.status ?? run.signal}`);
}
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : '-');
console.log('| attack | load | genuine p50 / max (failed) | server CPU | attacker answers | other |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const genuine = Object.entries(r.genuine)
    .map(([k, v]) => `${k} ${ms(v.p50)} / ${ms(v.max)}${v.failed ? ` (${v.failed} of ${v.n} failed)` : ''}`)
    .join('; ');
  const refusals = Object.entries(r.refusals)
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ');
  const extra = Object.entries(r.extra ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `| ${r.attack} | ${r.load} | ${genuine} | ${r.serverCpuSeconds.toFixed(2)} s | ${refusals} | ${extra} |`,
  );
}

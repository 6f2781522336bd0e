/**
 * On a terminal: colour (unless NO_COLOR), the coloured QR code, and the progress bar. The CLI runs
 * under script(1), which gives it a pseudo-terminal; stdout and stderr both reach that terminal.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cleanEnv, removeDir, runCli, show, tempDir } from './run-cli.js';

const hasScript = (() => {
  try {
    execFileSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
})();

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const ESC = '\u001b';

let cwd: string;
let data: string;

/** Runs the CLI on a pseudo-terminal; returns everything the terminal showed. */
function onTerminal(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { cwd, env: cleanEnv({ TERM: 'xterm-256color', ...env }), timeout: 30_000, encoding: 'utf8' },
      (error, stdout) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, output: stdout });
      },
    );
  });
}

before(async () => {
  cwd = tempDir();
  data = join(cwd, 'data');
  // First start (database, organisation, broker key) once, before the tests share the directory.
  const r = await runCli(['keys', 'list', '--data', data], { cwd });
  assert.equal(r.code, 0, show(r));
});

after(() => removeDir(cwd));

describe('on a terminal', {
  skip: hasScript ? false : 'script(1) is not installed',
}, () => {
  test('the table is in colour, and so is the QR code', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000', '--short', '--qr']);
    assert.equal(r.code, 0, r.output);
    assert.ok(r.output.includes(`${ESC}[1mSubject${ESC}[0m`), r.output);
    assert.ok(r.output.includes(`${ESC}[47m`), 'the QR code is painted black on white');
  });

  test('NO_COLOR turns every colour off, the QR code included', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000', '--short', '--qr'], {
      NO_COLOR: '1',
    });
    assert.equal(r.code, 0, r.output);
    assert.ok(!r.output.includes(ESC), r.output);
    assert.match(r.output, /QR code of the first guest link:\r?\n[\s▀▄█]+/);
  });

  test('TERM=dumb turns colour off', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000'], { TERM: 'dumb' });
    assert.equal(r.code, 0, r.output);
    assert.ok(!r.output.includes(ESC), r.output);
  });

  test('a progress bar when several calls are needed', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000', '--guests', '60', '--csv']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /\[#{24}\] 3\/3 calls/);
  });

  test('long URLs are shortened on a terminal, and the table says where the whole text is', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000', '--short'], {
      NO_COLOR: '1',
    });
    assert.equal(r.code, 0, r.output);
    const rows = r.output.split(/\r?\n/).filter((l) => /^(host|guest) 1 /.test(l));
    assert.equal(rows.length, 2, r.output);
    for (const row of rows) {
      assert.match(
        row,
        /\/visit\/\w+ +http:\/\/127\.0\.0\.1:8080\/hc\/v1\/(login|talk)\?int=jose&v=1&data=eyJ\S*…$/,
      );
      assert.ok(row.length < 200, `a row fits a terminal: ${row.length} characters`);
    }
    assert.match(r.output, /Long URLs are shortened here: --json or --csv print them whole/);
    const csv = await onTerminal(['links', '--data', data, '--iterations', '1000', '--csv'], {
      NO_COLOR: '1',
    });
    assert.doesNotMatch(csv.output, /…/, 'CSV keeps the whole text');
  });

  test('no progress bar for a single call', async () => {
    const r = await onTerminal(['links', '--data', data, '--iterations', '1000', '--csv']);
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /calls/);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AT_ONCE } from '../support/concurrency.js';
import { ROOT, runCli, show } from './run-cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('instant-connect: version, help and usage errors', { concurrency: AT_ONCE }, () => {
  test('--version prints the version of package.json (in-process, and the built bin as a smoke test)', async () => {
    for (const [flag, process] of [
      ['--version', false],
      ['-V', false],
      ['--version', true],
    ] as const) {
      const r = await runCli([flag], { process });
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, `${pkg.version}\n`);
    }
  });

  test('--help lists every command', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const command of ['links', 'whoami', 'decode', 'serve', 'keys']) {
      assert.match(r.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help lists ${command}\n${r.stdout}`);
    }
    assert.match(r.stdout, /Examples:/);
  });

  test('every command has --help with examples', async () => {
    const commands = [
      ['links'],
      ['whoami'],
      ['decode'],
      ['serve'],
      ['keys'],
      ['keys', 'create'],
      ['keys', 'list'],
      ['keys', 'revoke'],
      ['keys', 'rotate-broker'],
      ['keys', 'export-broker'],
    ];
    const results = await Promise.all(commands.map((c) => runCli([...c, '--help'])));
    results.forEach((r, i) => {
      const name = commands[i]!.join(' ');
      assert.equal(r.code, 0, `${name} --help\n${show(r)}`);
      assert.match(r.stdout, new RegExp(`Usage: instant-connect ${name}\\b`), name);
      assert.match(r.stdout, new RegExp(`Examples:\\n\\s+\\$ instant-connect ${name}\\b`), name);
    });
  });

  test('links --help documents every option of the issue', async () => {
    const r = await runCli(['links', '--help']);
    for (const option of [
      '--subject',
      '--hosts',
      '--guests',
      '--start',
      '--end',
      '--ttl',
      '--tz',
      '--device',
      '--short',
      '--vertical',
      '--no-host-login',
      '--jwe-alg',
      '--enc',
      '--jws-alg',
      '--salt-length',
      '--iterations',
      '--broker',
      '--data',
      '--json',
      '--csv',
      '--field',
      '--qr',
      '--qr-png',
      '--token-file',
    ]) {
      assert.ok(r.stdout.includes(option), `links --help mentions ${option}`);
    }
  });

  test('an unknown option exits 2 and names it (in-process, and the built bin as a smoke test)', async () => {
    for (const process of [false, true]) {
      const r = await runCli(['links', '--bogus'], { process });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /unknown option '--bogus'/);
      assert.equal(r.stdout, '');
    }
  });

  test('an unknown option of the program itself exits 2', async () => {
    const r = await runCli(['--frobnicate']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--frobnicate/);
  });

  test('an unknown command exits 2 and names it', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test('a missing argument exits 2', async () => {
    const r = await runCli(['decode']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /missing required argument 'link'/);
  });
});

/** Bad values of `links`: exit 2 before anything is issued, naming the flag and the rule. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AT_ONCE } from '../support/concurrency.js';
import { removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;

before(() => {
  cwd = tempDir();
});

after(() => removeDir(cwd));

const CASES: { args: string[]; expect: RegExp[] }[] = [
  { args: ['--guests', 'abc'], expect: [/--guests/, /'abc' is invalid/, /must be a whole number/] },
  { args: ['--hosts', '-1'], expect: [/--hosts/, /must be a whole number/] },
  {
    args: ['--hosts', '0', '--guests', '0'],
    expect: [/--hosts and --guests are both 0/, /at least one link/],
  },
  { args: ['--guests', '600'], expect: [/--guests must be an integer from 0 to 500 \(got 600\)/] },
  { args: ['--hosts', '300', '--guests', '300'], expect: [/--hosts \+ --guests must be at most 500/] },
  { args: ['--iterations', '5'], expect: [/--iterations must be an integer from 1000 to 32767 \(got 5\)/] },
  { args: ['--iterations', '40000'], expect: [/--iterations must be an integer from 1000 to 32767/] },
  { args: ['--salt-length', '200'], expect: [/--salt-length must be an integer from 8 to 128 \(got 200\)/] },
  { args: ['--vertical', 'xx'], expect: [/--vertical/, /'xx' is invalid/, /gen, hc/] },
  { args: ['--enc', 'nope'], expect: [/--enc/, /'nope' is invalid/, /A256GCM/] },
  { args: ['--jwe-alg', 'dir'], expect: [/--jwe-alg/, /'dir' is invalid/, /PBES2-HS512\+A256KW/] },
  { args: ['--jws-alg', 'RS256'], expect: [/--jws-alg/, /'RS256' is invalid/, /HS256, HS384, HS512/] },
  { args: ['--start', 'teatime'], expect: [/--start: "teatime" is not a time/, /ISO-8601/] },
  { args: ['--end', '2026-13-45 10:00'], expect: [/--end: .* is not a valid date and time/] },
  { args: ['--tz', 'Mars/Base'], expect: [/--tz: "Mars\/Base" is not a known time zone/] },
  {
    args: ['--tz', 'Mars/Base', '--start', '10:00'],
    expect: [/--tz: "Mars\/Base" is not a known time zone/],
  },
  { args: ['--ttl', 'soon'], expect: [/--ttl: "soon" is not a duration/, /45m/] },
  { args: ['--ttl', '45'], expect: [/--ttl: "45" has no unit: write 45m for minutes or 45s for seconds/] },
  { args: ['--start', '+2h', '--end', '+1h'], expect: [/--start \(\S+\) must be before --end \(\S+\)/] },
  { args: ['--end', '2020-01-01T00:00:00Z'], expect: [/--end \(2020-01-01T00:00:00Z\) is in the past/] },
  {
    args: ['--start', '2020-01-01T00:00:00Z'],
    expect: [
      /--start \(2020-01-01T00:00:00Z\) is in the past: with the default length of 15 minutes/,
      /an --end or --ttl/,
    ],
  },
  { args: ['--ttl', '45m', '--end', '+1h'], expect: [/--ttl: give --end or --ttl, not both/] },
  { args: ['--device', 'notasip'], expect: [/--device #1 must be a SIP URI/, /\(got "notasip"\)/] },
  {
    args: ['--device', 'a@b.example.com', '--device', 'room two'],
    expect: [/--device #2 must be a SIP URI/, /\(got "room two"\)/],
  },
  { args: ['--subject', ' '], expect: [/--subject must not be blank/] },
  { args: ['--field', 'nope'], expect: [/--field: the result has no "nope"/] },
  { args: ['--field', 'guests.0.shortUrl'], expect: [/stopped at "shortUrl"/] },
  { args: ['--subject', 'x'.repeat(300)], expect: [/--subject must be .*at most 256 characters/] },
];

describe('links: bad values exit 2 and name the flag and the rule', { concurrency: AT_ONCE }, () => {
  for (const { args, expect } of CASES) {
    test(args.join(' ').slice(0, 60), async () => {
      const data = join(cwd, `data-${args.join('_').replace(/\W/g, '').slice(0, 40)}`);
      const r = await runCli(['links', '--data', data, ...args], { cwd });
      assert.equal(r.code, 2, show(r));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^error: /);
      for (const pattern of expect) assert.match(r.stderr, pattern);
      assert.equal(existsSync(data), false, 'refused before any link was made or stored');
      assert.doesNotMatch(r.stderr, /Local broker/, 'nothing was issued');
      assert.ok(!existsSync(data), 'the data directory was not even created');
    });
  }

  test('several bad values are all reported at once', async () => {
    const r = await runCli(
      [
        'links',
        '--start',
        'teatime',
        '--iterations',
        '5',
        '--salt-length',
        '200',
        '--device',
        'notasip',
        '--ttl',
        'soon',
        '--hosts',
        '0',
        '--guests',
        '0',
      ],
      { cwd },
    );
    assert.equal(r.code, 2, show(r));
    for (const pattern of [
      /--start: "teatime" is not a time/,
      /--iterations must be an integer from 1000 to 32767/,
      /--salt-length must be an integer from 8 to 128/,
      /--device #1 must be a SIP URI/,
      /--ttl: "soon" is not a duration/,
      /--hosts and --guests are both 0/,
    ]) {
      assert.match(r.stderr, pattern);
    }
  });

  test('a bad --tz and other bad values are all reported', async () => {
    const r = await runCli(['links', '--tz', 'Mars/Base', '--end', '10:00', '--iterations', '5'], { cwd });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--tz: "Mars\/Base" is not a known time zone/);
    assert.match(r.stderr, /--iterations must be an integer from 1000 to 32767/);
    assert.doesNotMatch(r.stderr, /--end/, 'the time is not blamed for the zone');
  });

  test('bad values are refused before a cloud broker is called or a token is needed', async () => {
    const r = await runCli(['links', '--broker', 'commercial', '--iterations', '5'], { cwd });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--iterations must be/);
    assert.doesNotMatch(r.stderr, /needs a token/);
  });
});

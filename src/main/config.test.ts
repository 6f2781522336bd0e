import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from './config.js';
import { SETTINGS } from './settings.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The variables of the README's Configuration table (a row may name two: `METRICS_PORT`, `METRICS_HOST`). */
function readmeVariables(): string[] {
  const section = README.slice(README.indexOf('## Configuration'));
  const table = section.slice(
    section.indexOf('| variable |'),
    section.indexOf('\n\n', section.indexOf('| variable |')),
  );
  const names: string[] = [];
  for (const line of table.split('\n').slice(2)) {
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(m[1]!);
  }
  return names;
}

function rejects(env: Record<string, string>, rule: RegExp, flags = {}) {
  assert.throws(
    () => loadConfig({ env, flags }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_VALIDATION');
      assert.match(err.message, rule);
      return true;
    },
  );
}

describe('loadConfig', () => {
  test('every variable of the README table has a row, and every row is in the README', () => {
    const documented = readmeVariables();
    assert.ok(documented.length >= 30, `parsed ${documented.length} variables`);
    const rows = SETTINGS.map((s) => s.env);
    assert.deepEqual([...rows].sort(), [...new Set(documented)].sort());
    assert.equal(new Set(rows).size, rows.length, 'one row per variable');
  });

  test("each row's default is the parsers' default: setting a variable to it changes nothing", () => {
    // Rows whose default is a value, not a description ("none", "cores + 2", "http://HOST:PORT").
    const valued = SETTINGS.filter(
      (s) =>
        /^[\w.:/-]+$/.test(s.default) && !/[A-Z]{2}/.test(s.default) && !['none', 'off'].includes(s.default),
    );
    assert.ok(valued.length >= 20, `${valued.length} rows with a value`);
    // A variable that only counts beside another.
    const beside: Record<string, Record<string, string>> = { METRICS_HOST: { METRICS_PORT: '9100' } };
    for (const row of valued) {
      const base = beside[row.env] ?? {};
      assert.deepEqual(
        loadConfig({ env: { ...base, [row.env]: row.default }, cwd: '/srv' }),
        loadConfig({ env: base, cwd: '/srv' }),
        `${row.env}=${row.default} (its documented default) should change nothing`,
      );
    }
  });

  test('defaults without environment or flags', () => {
    const c = loadConfig({ env: {}, cwd: '/srv' });
    assert.deepEqual(c.listen, { port: 8080, host: '127.0.0.1' });
    assert.equal(c.data.dir, resolve('/srv', './data'));
    assert.equal(c.data.databaseUrl, undefined);
    assert.deepEqual(c.linkSource, { broker: 'local' });
    assert.equal(c.webex, undefined);
    assert.equal(c.trustProxy, false);
    assert.deepEqual(c.logger, { level: 'info' });
    assert.equal(c.rateLimits.issuePerKey, 600);
    assert.equal(c.live.streams, 500);
    assert.deepEqual(c.jobs, { pollMs: 1000, leaseSeconds: 120 });
    assert.deepEqual(c.prune, {
      intervalSeconds: 3600,
      deliveriesSeconds: 7 * 86_400,
      shortLinkGraceSeconds: 30 * 86_400,
    });
  });

  test('flags win over the environment, the environment over the defaults', () => {
    const env = {
      PORT: '9000',
      HOST: '0.0.0.0',
      DATA_DIR: '/env/data',
      PUBLIC_URL: 'https://env.example',
      LOG_LEVEL: 'warn',
      DATABASE_URL: 'postgres://env@db/x',
    };
    const fromEnv = loadConfig({ env });
    assert.deepEqual(fromEnv.listen, { port: 9000, host: '0.0.0.0' });
    assert.equal(fromEnv.data.dir, '/env/data');
    assert.equal(fromEnv.data.databaseUrl, 'postgres://env@db/x');
    assert.equal(fromEnv.publicUrl, 'https://env.example');
    assert.deepEqual(fromEnv.logger, { level: 'warn' });
    const flagged = loadConfig({
      env,
      flags: {
        port: 7000,
        host: '127.0.0.2',
        data: '/flag/data',
        publicUrl: 'https://flag.example',
        database: 'postgresql://flag@db/y',
        quiet: true,
      },
    });
    assert.deepEqual(flagged.listen, { port: 7000, host: '127.0.0.2' });
    assert.equal(flagged.data.dir, '/flag/data');
    assert.equal(flagged.data.databaseUrl, 'postgresql://flag@db/y');
    assert.equal(flagged.publicUrl, 'https://flag.example');
    assert.equal(flagged.logger, false);
  });

  test('the sections: bot, limits, jobs, metrics, pruning', () => {
    const c = loadConfig({
      env: {
        WEBEX_TOKEN: ' tok ',
        BROKER: 'usgov',
        WEBEX_WEBHOOK_SECRET: 'whsec',
        BOT_ALLOWED_DOMAINS: 'clinic.example',
        RATE_LIMIT_ISSUE_PER_KEY: '0',
        LIVE_STREAMS_PER_LINK: '1',
        JOB_POLL_MS: '50',
        METRICS_PORT: '0',
        METRICS_HOST: '127.0.0.1',
        DELIVERY_RETENTION_DAYS: '2',
        RETENTION_DAYS: '90',
        TRUST_PROXY: '1',
        TZ: 'Europe/London',
      },
    });
    assert.deepEqual(c.webex, {
      token: 'tok',
      apiUrl: 'https://api-usgov.webex.com/v1',
      access: { allowedDomains: ['clinic.example'] },
      webhookSecret: 'whsec',
    });
    assert.deepEqual(c.linkSource, { broker: 'usgov', token: 'tok' });
    assert.equal(c.rateLimits.issuePerKey, 0);
    assert.equal(c.live.streamsPerParticipant, 1);
    assert.deepEqual(c.jobs, { pollMs: 50, leaseSeconds: 120 });
    assert.deepEqual(c.metrics, { port: 0, host: '127.0.0.1' });
    assert.deepEqual(c.prune, {
      intervalSeconds: 3600,
      deliveriesSeconds: 2 * 86_400,
      shortLinkGraceSeconds: 30 * 86_400,
      visitsSeconds: 90 * 86_400,
    });
    assert.deepEqual(c.trustProxy, { hops: 1 });
    assert.equal(c.timeZone, 'Europe/London');
    // US government has no meeting webhooks: its meetings are polled unless told otherwise.
    assert.deepEqual(c.meetings, { mode: 'poll', pollSeconds: 30 });
  });

  test('meeting telemetry: webhooks by default, poll or off when told, its own token and secret', () => {
    assert.deepEqual(loadConfig({ env: {} }).meetings, { mode: 'webhooks', pollSeconds: 30 });
    assert.deepEqual(loadConfig({ env: { BROKER: 'commercial' } }).meetings.mode, 'webhooks');
    assert.deepEqual(
      loadConfig({
        env: {
          BROKER: 'usgov',
          MEETING_TELEMETRY: ' Webhooks ',
          MEETING_POLL_SECONDS: '5',
          WEBEX_MEETINGS_TOKEN: ' admin-token ',
          WEBEX_MEETINGS_WEBHOOK_SECRET: 'meet-secret',
        },
      }).meetings,
      { mode: 'webhooks', pollSeconds: 5, token: 'admin-token', webhookSecret: 'meet-secret' },
    );
    assert.equal(loadConfig({ env: { MEETING_TELEMETRY: 'off' } }).meetings.mode, 'off');
    rejects({ MEETING_TELEMETRY: 'sometimes' }, /^MEETING_TELEMETRY must be one of webhooks, poll, off$/);
    rejects({ MEETING_POLL_SECONDS: '0' }, /^MEETING_POLL_SECONDS must be a whole number from 1$/);
  });

  test('the Config is frozen, sections too', () => {
    const c = loadConfig({ env: {} });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.listen));
    assert.ok(Object.isFrozen(c.rateLimits));
    assert.throws(() => {
      (c.listen as { port: number }).port = 1;
    }, TypeError);
  });

  test('a bad value names the variable and the rule, word for word', () => {
    rejects({ PORT: 'eighty' }, /^PORT must be a port number from 0 to 65535$/);
    rejects({ METRICS_PORT: '70000' }, /^METRICS_PORT must be a port number from 0 to 65535$/);
    rejects({ METRICS_HOST: '127.0.0.1' }, /^METRICS_HOST needs METRICS_PORT$/);
    rejects({ JOB_POLL_MS: '0' }, /^JOB_POLL_MS must be a whole number from 1$/);
    rejects({ PRUNE_INTERVAL_SECONDS: 'soon' }, /^PRUNE_INTERVAL_SECONDS must be a whole number from 0$/);
    rejects(
      { RATE_LIMIT_ISSUE_PER_KEY: '-1' },
      /^RATE_LIMIT_ISSUE_PER_KEY must be a whole number \(0 turns the limit off\)$/,
    );
    rejects({ LIVE_STREAMS: '0' }, /^LIVE_STREAMS must be a whole number from 1$/);
    rejects(
      { TRUST_PROXY: 'yes' },
      /^TRUST_PROXY must be true, false, a hop count, or a comma-separated list/,
    );
    rejects({ BOT_ALLOWED_DOMAINS: 'gmail' }, /^BOT_ALLOWED_DOMAINS: "gmail" is not an email domain/);
  });

  test('secrets are never echoed in an error', () => {
    const secretToken = 'short secret';
    assert.throws(
      () => loadConfig({ env: { METRICS_TOKEN: secretToken } }),
      (err: Error) => /^METRICS_TOKEN must be 16 to 512/.test(err.message) && !err.message.includes('secret'),
    );
    const url = 'mysql://admin:hunter2@db/x';
    for (const input of [{ env: { DATABASE_URL: url } }, { env: {}, flags: { database: url } }]) {
      assert.throws(
        () => loadConfig(input),
        (err: Error) =>
          err.message === '--database (or DATABASE_URL) must be a postgres:// or postgresql:// URL' &&
          !err.message.includes('hunter2'),
      );
    }
    for (const s of SETTINGS.filter((row) => row.secret))
      assert.match(s.env, /TOKEN|SECRET|DATABASE_URL|SMTP_URL|_AUTH$/);
    for (const bad of ['http://notices:hunter2@mail.example', 'smtp://notices:hunter2@', 'hunter2'])
      assert.throws(
        () => loadConfig({ env: { SMTP_URL: bad, SMTP_FROM: 'visits@clinic.example' } }),
        (err: Error) => /^SMTP_URL must be an smtp/.test(err.message) && !err.message.includes('hunter2'),
      );
  });
  test('SMS: off without SMS_PROVIDER; Twilio and the generic provider parsed and checked, never echoing a secret', () => {
    assert.equal(loadConfig({ env: {} }).sms, undefined);
    assert.equal(loadConfig({ env: { SMS_PROVIDER: 'off', TWILIO_AUTH_TOKEN: 'x' } }).sms, undefined);
    const sid = `AC${'0a'.repeat(16)}`;
    const token = 'f'.repeat(32);
    const twilio = { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: token };
    assert.deepEqual(loadConfig({ env: { ...twilio, TWILIO_FROM: '+1 (415) 555-0100' } }).sms, {
      provider: 'twilio',
      accountSid: sid,
      authToken: token,
      from: '+14155550100',
      apiUrl: 'https://api.twilio.com',
    });
    const mg = `MG${'1'.repeat(32)}`;
    assert.deepEqual(
      loadConfig({
        env: { ...twilio, TWILIO_MESSAGING_SERVICE_SID: mg, TWILIO_API_URL: 'http://127.0.0.1:9' },
      }).sms,
      {
        provider: 'twilio',
        accountSid: sid,
        authToken: token,
        messagingServiceSid: mg,
        apiUrl: 'http://127.0.0.1:9',
      },
    );
    assert.equal(loadConfig({ env: { ...twilio, TWILIO_FROM: 'Clinic' } }).sms?.provider, 'twilio');
    rejects({ SMS_PROVIDER: 'pigeon' }, /^SMS_PROVIDER must be twilio or http/);
    rejects({ ...twilio, TWILIO_ACCOUNT_SID: 'nope' }, /TWILIO_ACCOUNT_SID: AC and 32 hexadecimal digits/);
    rejects({ ...twilio, TWILIO_AUTH_TOKEN: '' }, /needs TWILIO_AUTH_TOKEN$/);
    rejects(twilio, /needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID/);
    rejects({ ...twilio, TWILIO_FROM: '+1415', TWILIO_MESSAGING_SERVICE_SID: mg }, /not both/);
    rejects({ ...twilio, TWILIO_FROM: '+1415' }, /^TWILIO_FROM must be an E.164 number/);
    rejects(
      { ...twilio, TWILIO_FROM: '+14155550100', TWILIO_API_URL: 'ftp://x' },
      /^TWILIO_API_URL must be an http/,
    );
    const shortToken = 'hunter2 secret';
    assert.throws(
      () => loadConfig({ env: { ...twilio, TWILIO_FROM: '+14155550100', TWILIO_AUTH_TOKEN: shortToken } }),
      (err: Error) => /^TWILIO_AUTH_TOKEN must be/.test(err.message) && !err.message.includes('hunter2'),
    );

    assert.deepEqual(
      loadConfig({ env: { SMS_PROVIDER: 'http', SMS_HTTP_URL: 'https://sms.example/send' } }).sms,
      {
        provider: 'http',
        url: 'https://sms.example/send',
        body: '{"to":"{{to}}","text":"{{text}}"}',
      },
    );
    const http = { SMS_PROVIDER: 'HTTP', SMS_HTTP_URL: 'https://sms.example/send' };
    assert.deepEqual(
      loadConfig({ env: { ...http, SMS_HTTP_BODY: 'to={{to}}&m={{text}}', SMS_HTTP_AUTH: 'Bearer abc' } })
        .sms,
      { provider: 'http', url: 'https://sms.example/send', body: 'to={{to}}&m={{text}}', auth: 'Bearer abc' },
    );
    rejects({ SMS_PROVIDER: 'http' }, /needs SMS_HTTP_URL/);
    rejects({ ...http, SMS_HTTP_URL: 'sms.example' }, /^SMS_HTTP_URL must be an http/);
    rejects(
      { ...http, SMS_HTTP_BODY: '{"to":"{{to}}"}' },
      /^SMS_HTTP_BODY must contain \{\{to\}\} and \{\{text\}\}/,
    );
    rejects(
      { ...http, SMS_HTTP_BODY: '{"to":{{to}},"text":"{{text}}"}' },
      /^SMS_HTTP_BODY starts with \{ but is not JSON/,
    );
  });

  test('reminders: REMINDER_OFFSETS durations (default 24h,1h), off or empty for none, bad values refused', () => {
    assert.deepEqual(loadConfig({ env: {} }).reminders.offsets, [86_400, 3_600]);
    assert.deepEqual(
      loadConfig({ env: { REMINDER_OFFSETS: '15m, 2h,PT15M,1d' } }).reminders.offsets,
      [86_400, 7_200, 900],
    );
    assert.deepEqual(loadConfig({ env: { REMINDER_OFFSETS: 'off' } }).reminders.offsets, []);
    assert.deepEqual(loadConfig({ env: { REMINDER_OFFSETS: ' ' } }).reminders.offsets, []);
    rejects(
      { REMINDER_OFFSETS: '24h,soon' },
      /^REMINDER_OFFSETS must be durations.*"soon" is not a duration/,
    );
    rejects({ REMINDER_OFFSETS: '24' }, /^REMINDER_OFFSETS .*has no unit/);
    rejects({ REMINDER_OFFSETS: '1h,,2h' }, /^REMINDER_OFFSETS must be durations/);
  });

  test('email: SMTP_URL and SMTP_FROM together, or neither (off)', () => {
    assert.equal(loadConfig({ env: {} }).email, undefined);
    assert.deepEqual(
      loadConfig({
        env: { SMTP_URL: 'smtps://u:p%40ss@mail.example:465', SMTP_FROM: 'Clinic <visits@clinic.example>' },
      }).email,
      {
        url: 'smtps://u:p%40ss@mail.example:465',
        from: { name: 'Clinic', address: 'visits@clinic.example' },
      },
    );
    assert.deepEqual(
      loadConfig({ env: { SMTP_URL: 'smtp://mail.example', SMTP_FROM: 'a@b.example' } }).email?.from,
      {
        name: 'Instant Connect',
        address: 'a@b.example',
      },
    );
    rejects({ SMTP_URL: 'smtp://u:secretpw@mail.example' }, /SMTP_URL is set but SMTP_FROM is not/);
    rejects({ SMTP_FROM: 'a@b.example' }, /SMTP_FROM is set but SMTP_URL is not/);
    rejects(
      { SMTP_URL: 'smtp://mail.example', SMTP_FROM: 'not an address' },
      /SMTP_FROM must be an email address/,
    );
  });
});

/**
 * Hostile input against the webhooks: POST /hooks/webex (the bot, X-Spark-Signature over the raw
 * body) and POST /hooks/visits (the workflow trigger: an API key, or X-IC-Hook, X-IC-Timestamp and
 * X-IC-Signature). Forged, truncated, stale and replayed signatures are 401; correctly signed but
 * hostile bodies are the right 400 (or accepted when they are valid); never a 5xx. The bot runs
 * against the Webex emulator.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.js';
import { sparkSignatureOf, startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';
import {
  assertAlive,
  assertNoPollution,
  assertSane,
  expectAnswer,
  hostileObject,
  hostileTree,
  jsonText,
  MALFORMED_JSON,
  malformedJson,
  nastyString,
  obj,
  POLLUTERS,
  raw,
  runs,
  send,
  type Tree,
} from './support.js';

let emulator: WebexEmulator;
let server: TestServer;
let webhookSecret: string;
let hook: { id: string; secret: string };

before(async () => {
  emulator = await startWebexEmulator();
  webhookSecret = `whsec-${'hostile'.repeat(4)}`;
  server = await startTestServer({
    webex: { token: emulator.token, apiUrl: emulator.apiUrl, webhookSecret },
    jobs: { pollMs: 50, leaseSeconds: 2 },
  });
  const made = await server.server.context.trigger.createHook(server.server.context.org, 'hostile');
  hook = { id: made.hook.id, secret: made.secret };
});
after(async () => {
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
  await emulator.close();
});

const FAST_CRYPTO: [string, Tree] = ['crypto', obj([['iterations', raw(1000)]])];
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '');
const now = () => Math.floor(Date.now() / 1000);

function toWebex(body: string | Buffer, signature: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== null) headers['x-spark-signature'] = signature;
  return { method: 'POST', path: '/hooks/webex', headers, body };
}

function triggerSignature(secret: string, timestamp: string, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

let sent = 0;
/**
 * Trailing whitespace never used before: the same bytes signed twice are a replay (401), so every
 * request that should pass is made unique without changing its meaning.
 */
function fresh(body: string): { body: string; timestamp: string } {
  return { body: `${body}${' '.repeat(sent++)}`, timestamp: String(now()) };
}

function toTrigger(
  text: string,
  h: {
    hook?: string | null;
    timestamp?: string | null;
    signature?: string | null;
    extra?: Record<string, string>;
  } = {},
) {
  const unique = fresh(text);
  const body = h.timestamp === undefined && h.signature === undefined ? unique.body : text;
  const timestamp = h.timestamp === undefined ? unique.timestamp : h.timestamp;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...h.extra };
  const hookId = h.hook === undefined ? hook.id : h.hook;
  if (hookId !== null) headers['x-ic-hook'] = hookId;
  if (timestamp !== null) headers['x-ic-timestamp'] = timestamp;
  const signature =
    h.signature === undefined ? triggerSignature(hook.secret, timestamp ?? '', body) : h.signature;
  if (signature !== null) headers['x-ic-signature'] = signature;
  return { method: 'POST', path: '/hooks/visits', headers, body };
}

/** What the bot must answer to a correctly signed delivery (src/bot/bot.ts: data.id is required). */
function deliveryValid(text: string): boolean {
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    typeof parsed === 'object' &&
    parsed !== null &&
    typeof parsed.data === 'object' &&
    parsed.data !== null &&
    typeof parsed.data.id === 'string' &&
    parsed.data.id.length > 0
  );
}

/** A delivery-shaped body with hostile fields here and there. */
const hostileDelivery: fc.Arbitrary<Tree> = fc
  .record({
    resource: fc.oneof(fc.constantFrom('messages', 'attachmentActions', 'rooms'), nastyString),
    event: fc.oneof(fc.constantFrom('created', 'deleted'), nastyString),
    data: fc.oneof(
      hostileTree,
      fc.tuple(fc.oneof(nastyString, fc.constant('Y2lzY29zcGFyazovL3VzL01FU1NBR0UvMQ')), hostileTree).map(
        ([id, other]): Tree =>
          obj([
            ['id', raw(id)],
            ['roomId', other],
            ['personId', other],
          ]),
      ),
    ),
  })
  .map((r) =>
    obj([
      ['resource', raw(r.resource)],
      ['event', raw(r.event)],
      ['data', r.data],
    ]),
  );

describe('POST /hooks/webex', () => {
  test('a missing, malformed or wrong X-Spark-Signature: 401, whatever the body', async () => {
    const signature = fc.oneof(
      fc.constant(null),
      fc.constantFrom('', ' ', 'sha1=', '0'.repeat(40), 'g'.repeat(40), '0'.repeat(39), '0'.repeat(41)),
      fc.string({ unit: 'binary-ascii', maxLength: 100 }).map(headerSafe),
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex')),
      fc.constant('OTHER-SECRET'),
      fc.constant('SHA1='),
      fc.constant('TRUNCATED'),
      fc.constant('SHA256'),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileDelivery, hostileTree), signature, async (tree, sig) => {
        const body = jsonText(tree);
        let header = sig;
        if (sig === 'OTHER-SECRET') header = sparkSignatureOf('another-secret-entirely', body);
        if (sig === 'SHA1=') header = `sha1=${sparkSignatureOf(webhookSecret, body)}`;
        if (sig === 'TRUNCATED') header = sparkSignatureOf(webhookSecret, body).slice(0, 39);
        if (sig === 'SHA256') header = createHmac('sha256', webhookSecret).update(body).digest('hex');
        await expectAnswer(server.url, toWebex(body, header), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(250),
    );
  });

  test('a signature of other bytes (the body changed after signing): 401', async () => {
    await fc.assert(
      fc.asyncProperty(hostileDelivery, fc.nat(), fc.nat({ max: 255 }), async (tree, at, byte) => {
        const signed = Buffer.from(jsonText(tree));
        const changed = Buffer.from(signed);
        const index = at % changed.length;
        changed[index] = byte;
        fc.pre(!changed.equals(signed));
        // Still JSON (or not): either way the signature no longer matches.
        let parses = true;
        try {
          JSON.parse(changed.toString('utf8'));
        } catch {
          parses = false;
        }
        const answer = await send(server.url, toWebex(changed, sparkSignatureOf(webhookSecret, signed)));
        if (parses) assertSane(answer, { kind: 'api', status: 401, code: 'ERR_UNAUTHORIZED' });
        else assertSane(answer, { kind: 'api', status: 400, code: 'ERR_BAD_JSON' });
      }),
      runs(150),
    );
  });

  test('correctly signed hostile deliveries: 200 with data.id, else 400; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileDelivery, hostileTree, hostileObject), async (tree) => {
        const body = jsonText(tree);
        const answer = await send(server.url, toWebex(body, sparkSignatureOf(webhookSecret, body)));
        if (deliveryValid(body)) assertSane(answer, { kind: 'api', status: 200 });
        else assertSane(answer, { kind: 'api', status: 400, code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(250),
    );
    for (const body of [
      'null',
      '0',
      '""',
      '[]',
      '{}',
      '{"data":null}',
      '{"data":"x"}',
      '{"data":{"id":""}}',
      'true',
    ]) {
      await expectAnswer(server.url, toWebex(body, sparkSignatureOf(webhookSecret, body)), {
        kind: 'api',
        status: 400,
        code: 'ERR_VALIDATION',
      });
    }
    for (const tree of POLLUTERS) {
      const body = jsonText(
        obj([
          ['data', tree],
          ['resource', raw('messages')],
        ]),
      );
      const answer = await send(server.url, toWebex(body, sparkSignatureOf(webhookSecret, body)));
      assertSane(answer, { kind: 'api', status: [200, 400] });
      assertNoPollution();
    }
  });

  test('signed or not, a body that is not JSON is 400 ERR_BAD_JSON', async () => {
    await fc.assert(
      fc.asyncProperty(malformedJson, fc.boolean(), async (body, signed) => {
        await expectAnswer(server.url, toWebex(body, signed ? sparkSignatureOf(webhookSecret, body) : null), {
          kind: 'api',
          status: 400,
          code: 'ERR_BAD_JSON',
        });
      }),
      runs(100),
    );
  });
});

describe('POST /hooks/visits', () => {
  test('no authentication, unknown or malformed hooks: 401', async () => {
    const hookId = fc.oneof(
      fc.constant(null),
      fc.constantFrom('', 'hook_', 'hook_x', `hook_${'a'.repeat(41)}`, 'HOOK_x', 'hook_../..'),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).map(headerSafe),
      fc.stringMatching(/^hook_[A-Za-z0-9_-]{1,40}$/),
    );
    await fc.assert(
      fc.asyncProperty(hostileObject, hookId, async (tree, id) => {
        fc.pre(id !== hook.id);
        const body = jsonText(tree);
        await expectAnswer(server.url, toTrigger(body, { hook: id }), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(150),
    );
  });

  test('the real hook with forged, stale, future, malformed or missing timestamps and signatures: 401', async () => {
    const timestamp = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.constantFrom('', 'now', '-1', '1e9', '0x10', ' ', '99999999999999', '1.5'),
      fc.integer({ min: 301, max: 10_000_000 }).map((d) => String(now() - d)),
      fc.integer({ min: 301, max: 10_000_000 }).map((d) => String(now() + d)),
      fc.string({ unit: 'binary-ascii', maxLength: 20 }).map(headerSafe),
    );
    const signature = fc.oneof(
      fc.constant(null),
      fc.constantFrom(
        '',
        'v1=',
        'v2=',
        `v1=${'0'.repeat(64)}`,
        `v1=${'G'.repeat(64)}`,
        `v1=${'0'.repeat(63)}`,
      ),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `v1=${Buffer.from(b).toString('hex')}`),
      fc.string({ unit: 'binary-ascii', maxLength: 100 }).map(headerSafe),
      fc.constantFrom('OTHER-SECRET', 'OTHER-BODY', 'UPPERCASE', 'NO-PREFIX', 'OTHER-TIME'),
    );
    await fc.assert(
      fc.asyncProperty(hostileObject, timestamp, signature, async (tree, ts, sig) => {
        const body = jsonText(tree);
        const t = ts === undefined ? String(now()) : ts;
        let s: string | null = sig;
        const right = triggerSignature(hook.secret, t ?? '', body);
        if (sig === 'OTHER-SECRET') s = triggerSignature('ics_not-the-secret', t ?? '', body);
        if (sig === 'OTHER-BODY') s = triggerSignature(hook.secret, t ?? '', `${body} `);
        if (sig === 'UPPERCASE') s = `v1=${right.slice(3).toUpperCase()}`;
        if (sig === 'NO-PREFIX') s = right.slice(3);
        if (sig === 'OTHER-TIME') s = triggerSignature(hook.secret, String(Number(t) + 1), body);
        // Only a fresh timestamp with the right signature would pass: none of these is.
        fc.pre(!(s === right && /^\d+$/.test(t ?? '') && Math.abs(now() - Number(t)) <= 300));
        await expectAnswer(server.url, toTrigger(body, { timestamp: t, signature: s }), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(250),
    );
  });

  test('correctly signed hostile bodies: 201 when valid, else 400; a body that is no object is 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileObject, hostileTree), async (tree) => {
        // Fast PBKDF2 first (a hostile `crypto` later in the body overrides it).
        const body = jsonText(tree.t === 'obj' ? obj([FAST_CRYPTO, ...tree.entries]) : tree);
        const answer = await send(server.url, toTrigger(body));
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {}
        const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
        assertSane(answer, {
          kind: 'api',
          status: isObject ? [201, 400] : 400,
          code: /^ERR_(VALIDATION|BAD_JSON)$/,
        });
      }),
      runs(200),
    );
    for (const body of ['null', '0', '"x"', '[]', 'true', '[{}]']) {
      await expectAnswer(server.url, toTrigger(body), { kind: 'api', status: 400, code: 'ERR_VALIDATION' });
    }
    assertNoPollution();
  });

  test('a valid signed request once is 201; the same bytes and signature again are a replay: 401', async () => {
    const body = JSON.stringify({ subject: 'replayed', crypto: { iterations: 1000 } });
    const timestamp = String(now());
    const request = toTrigger(body, { timestamp, signature: triggerSignature(hook.secret, timestamp, body) });
    await expectAnswer(server.url, request, { kind: 'api', status: 201 });
    for (let i = 0; i < 3; i++) {
      await expectAnswer(server.url, request, { kind: 'api', status: 401, code: 'ERR_UNAUTHORIZED' });
    }
  });

  test('replays of a valid signed request with any spacing, Unicode or control bytes in X-IC-Signature: 401, one visit', async () => {
    const subject = `replay spelled ${now()}`;
    const body = JSON.stringify({ subject, crypto: { iterations: 1000 } });
    const timestamp = String(now());
    const right = triggerSignature(hook.secret, timestamp, body);
    await expectAnswer(server.url, toTrigger(body, { timestamp, signature: right }), {
      kind: 'api',
      status: 201,
    });
    // Then any mix of non-ASCII characters (sent UTF-8 encoded by Node's http client), Unicode
    // spaces, ASCII spaces and tabs, commas.
    const unicodeSpaces = [
      '\u00a0',
      '\u1680',
      '\u2000',
      '\u2007',
      '\u200b',
      '\u2028',
      '\u202f',
      '\u205f',
      '\u3000',
      '\ufeff',
    ];
    const junk = fc.oneof(
      fc.constant('\u00a0'),
      fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
      fc.constantFrom(...unicodeSpaces).map((c) => Buffer.from(c, 'utf8').toString('latin1')),
      fc.constantFrom(' ', '\t', ',', '  '),
    );
    const spelled = fc
      .tuple(
        fc.array(junk, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('before', 'after', 'inside', 'both'),
      )
      .map(([parts, where]) => {
        const j = parts.join('');
        if (where === 'before') return `${j}${right}`;
        if (where === 'after') return `${right}${j}`;
        if (where === 'inside') return `v1=${j}${right.slice(3)}`;
        return `${j}${right}${j}`;
      });
    // What the review sent, through fetch (its header bytes are Latin-1: 0xA0 on the wire; Node's
    // http client would send UTF-8): String.prototype.trim dropped these, and the base then
    // counted a new request.
    for (const signature of [
      `${right}\u00a0`,
      `\u00a0${right}`,
      `${right} \u00a0\u00a0`,
      `\u00a0\t${right}`,
    ]) {
      const answer = await fetch(`${server.url}/hooks/visits`, {
        method: 'POST',
        headers: { ...toTrigger(body, { timestamp, signature }).headers },
        body,
      });
      assert.equal(answer.status, 401, JSON.stringify(signature));
    }
    await fc.assert(
      fc.asyncProperty(spelled, async (signature) => {
        await expectAnswer(server.url, toTrigger(body, { timestamp, signature }), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(150),
    );
    const list = await send(server.url, {
      path: '/api/visits?limit=100',
      headers: { authorization: `Bearer ${server.key}` },
    });
    const items = (list.json as { items: { subject: string }[] }).items;
    assert.equal(items.filter((v) => v.subject === subject).length, 1, 'one visit however it is spelled');
  });

  test('hostile Idempotency-Keys: 400 unless 1 to 255 visible ASCII characters', async () => {
    const key = fc.oneof(
      fc.constantFrom('', ' ', 'a b', '\t', 'x'.repeat(256), 'é', '\u00ff', 'a\tb'),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 300 }).map(headerSafe),
      fc.stringMatching(/^[\x21-\x7e]{1,255}$/),
    );
    await fc.assert(
      fc.asyncProperty(key, async (k) => {
        const body = JSON.stringify({ subject: `idem ${Math.random()}`, crypto: { iterations: 1000 } });
        const request = toTrigger(body, { extra: { 'idempotency-key': k } });
        // What a client sends is trimmed of surrounding spaces by HTTP itself.
        const sent = k.trim();
        const valid = /^[\x21-\x7e]{1,255}$/.test(sent);
        const answer = await send(server.url, request);
        if (valid) assertSane(answer, { kind: 'api', status: [201, 409] });
        else assertSane(answer, { kind: 'api', status: 400, code: 'ERR_VALIDATION' });
      }),
      runs(100),
    );
  });

  test('with an API key: hostile bodies and bad keys are 400 and 401', async () => {
    await fc.assert(
      fc.asyncProperty(hostileObject, fc.boolean(), async (tree, good) => {
        const body = jsonText(tree.t === 'obj' ? obj([FAST_CRYPTO, ...tree.entries]) : tree);
        const answer = await send(server.url, {
          method: 'POST',
          path: '/hooks/visits',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${good ? server.key : `${server.key}x`}`,
          },
          body,
        });
        if (good) assertSane(answer, { kind: 'api', status: [201, 400] });
        else assertSane(answer, { kind: 'api', status: 401, code: 'ERR_UNAUTHORIZED' });
      }),
      runs(100),
    );
  });

  test('malformed JSON is 400 before any signature is looked at', async () => {
    for (const body of MALFORMED_JSON) {
      await expectAnswer(server.url, toTrigger(body), { kind: 'api', status: 400, code: 'ERR_BAD_JSON' });
    }
  });
});

/**
 * Helpers of the hostile-input suite: raw HTTP requests (node:http, so paths, methods and bodies
 * go out exactly as written, `..` and all) with a timeout each, the checks every answer must pass
 * (never a 5xx, the error envelope on API routes, no stack trace or file path), a check that no
 * prototype was polluted in this process (the server runs in it), and fast-check arbitraries of
 * hostile values rendered as raw JSON text (so `"__proto__"` reaches the server as written).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';

/** One seed for the whole suite (HOSTILE_SEED overrides it to explore; failures print theirs). */
export const SEED = Number(process.env['HOSTILE_SEED'] ?? 0x1c_7e57);

/** fast-check options: the fixed seed and a bounded number of runs. */
export const runs = (numRuns: number) => ({
  seed: SEED,
  numRuns,
  endOnFailure: true,
  includeErrorInReport: true,
});

/** Longest any single answer may take: past it, the request is a hang. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface Req {
  method?: string;
  /** Sent byte for byte as the request target (may hold `..`, `%2e`, anything but spaces). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
}

export interface Ans {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: any;
  contentType: string;
  req: Req;
}

const describeReq = (req: Req) =>
  `${req.method ?? 'GET'} ${req.path.length > 200 ? `${req.path.slice(0, 200)}…(${req.path.length})` : req.path}`;

/** One request on a fresh connection; fails as a hang when no whole answer comes within the timeout. */
export function send(base: string, req: Req, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Ans> {
  const url = new URL(base);
  return new Promise<Ans>((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...req.headers };
    if (req.body !== undefined && !req.chunked) {
      headers['content-length'] ??= String(Buffer.byteLength(req.body));
    }
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers,
        agent: false,
        insecureHTTPParser: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const contentType = String(res.headers['content-type'] ?? '');
          let json: unknown;
          if (contentType.startsWith('application/json')) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, contentType, req });
        });
      },
    );
    const timer = setTimeout(() => {
      r.destroy(new Error(`no answer within ${timeoutMs} ms (a hang): ${describeReq(req)}`));
    }, timeoutMs);
    r.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}

/** A stack frame, a source path or a module directory: none may reach a client. */
const LEAKY = [
  /\n\s+at [^\n]*:\d+:\d+/,
  /\bat [^\s()]+ \([^()]*:\d+:\d+\)/,
  /(?:\/|\\)(?:src|node_modules|work|home|tmp|usr)(?:\/|\\)[^\s"'<>]*/,
  /\.(?:ts|js|mjs|cjs):\d+/,
  /\b(?:TypeError|RangeError|ReferenceError|SyntaxError)\b/,
  /Cannot read propert/,
  /undefined is not/,
  /\[native code\]/,
  /\bfunction \w*\(/,
];

function assertNoLeak(answer: Ans): void {
  // A 404 names the path it was asked for: an echo of what we sent is no leak.
  let text = answer.text;
  for (const echo of echoes(answer.req.path)) text = text.split(echo).join('');
  for (const pattern of LEAKY) {
    assert.doesNotMatch(
      text,
      pattern,
      `${describeReq(answer.req)} → ${answer.status}: the body shows internals: ${answer.text.slice(0, 400)}`,
    );
  }
}

/** The Webex error envelope with our code, and the TrackingID header equal to its trackingId. */
export function assertEnvelope(answer: Ans, code?: string | RegExp): void {
  const where = `${describeReq(answer.req)} → ${answer.status}: ${answer.text.slice(0, 300)}`;
  assert.match(answer.contentType, /^application\/json/, where);
  const body = answer.json;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), where);
  assert.equal(typeof body.message, 'string', where);
  assert.ok(body.message.length > 0, where);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, where);
  for (const e of body.errors) assert.equal(typeof e.description, 'string', where);
  assert.match(String(body.trackingId), /^IC_[0-9a-f-]{36}$/, where);
  assert.equal(answer.headers['trackingid'], body.trackingId, where);
  assert.match(String(body.code), /^ERR_[A-Z_]+$/, where);
  if (typeof code === 'string') assert.equal(body.code, code, where);
  else if (code) assert.match(body.code, code, where);
}

function echoes(path: string): string[] {
  const out = new Set([path, path.split('?')[0]!]);
  for (const p of [...out]) {
    try {
      out.add(decodeURIComponent(p));
    } catch {}
    out.add(JSON.stringify(p).slice(1, -1));
  }
  return [...out].filter((e) => e.length > 0).sort((a, b) => b.length - a.length);
}

/**
 * Node reads at most 16 KiB of request line and headers: past it the answer is 431 whatever the
 * route (near it, either).
 */
export function statusesFor(path: string, statuses: readonly number[]): number[] {
  if (path.length > 16 * 1024) return [431];
  if (path.length > 15 * 1024) return [...statuses, 431];
  return [...statuses];
}

export type Kind = 'api' | 'page' | 'any';

/**
 * What every answer must be: never a 5xx, one of the expected statuses, the envelope on an API
 * route's refusal (JSON with our code) and HTML on a page's, and no internals in the body.
 */
export function assertSane(
  answer: Ans,
  expect: { kind: Kind; status: number | readonly number[]; code?: string | RegExp },
): void {
  const where = `${describeReq(answer.req)} → ${answer.status}: ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status < 500, `a server error: ${where}`);
  const allowed = typeof expect.status === 'number' ? [expect.status] : expect.status;
  assert.ok(allowed.includes(answer.status), `expected ${allowed.join(' or ')}: ${where}`);
  // Our own scripts and styles are code, served as they are.
  if (!(answer.status < 300 && answer.req.path.startsWith('/assets/'))) assertNoLeak(answer);
  if (answer.status >= 400 && answer.req.method !== 'HEAD') {
    // Past 16 KiB of headers no route was reached: the parser's 431 has its own code.
    const code = answer.status === 431 ? 'ERR_VALIDATION' : expect.code;
    if (expect.kind === 'api') assertEnvelope(answer, code);
    if (expect.kind === 'page') {
      // A page answers people: HTML, or (asked without text/html) the envelope.
      if (answer.contentType.startsWith('text/html')) assert.match(answer.text, /^<!doctype html>/i, where);
      else assertEnvelope(answer, code);
    }
    if (expect.kind === 'any' && answer.contentType.startsWith('application/json')) assertEnvelope(answer);
  }
}

/** Sends and checks in one go. */
export async function expectAnswer(
  base: string,
  req: Req,
  expect: { kind: Kind; status: number | readonly number[]; code?: string | RegExp },
): Promise<Ans> {
  const answer = await send(base, req);
  assertSane(answer, expect);
  return answer;
}

/** The server still answers: GET /healthz is 200 `{status: "ok"}`. */
export async function assertAlive(base: string): Promise<void> {
  const answer = await send(base, { path: '/healthz' });
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(answer.json, { status: 'ok' });
}

const PROTOTYPES: [string, object][] = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];
const baseline = new Map(
  PROTOTYPES.map(([name, proto]) => [name, Reflect.ownKeys(proto).map(String).sort()]),
);

/** Nothing was added to a built-in prototype in this process (the server's). */
export function assertNoPollution(): void {
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype was polluted');
  assert.equal(([] as unknown as Record<string, unknown>)['polluted'], undefined, 'Array.prototype polluted');
  for (const [name, proto] of PROTOTYPES) {
    assert.deepEqual(Reflect.ownKeys(proto).map(String).sort(), baseline.get(name), `${name} changed`);
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile values, as raw JSON text.

/** A JSON value as a tree whose leaves may be raw number literals JSON.stringify could not write. */
export type Tree =
  | { t: 'raw'; text: string }
  | { t: 'arr'; items: Tree[] }
  | { t: 'obj'; entries: [string, Tree][] };

export function jsonText(tree: Tree): string {
  switch (tree.t) {
    case 'raw':
      return tree.text;
    case 'arr':
      return `[${tree.items.map(jsonText).join(',')}]`;
    case 'obj':
      return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
  }
}

export const raw = (value: unknown): Tree => ({ t: 'raw', text: JSON.stringify(value) });
export const obj = (entries: [string, Tree][]): Tree => ({ t: 'obj', entries });

/** Strings people and attackers send: control characters, lone surrogates, RTL, emoji, markup, huge. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFFx',
  'x\uDBFF',
  '\u202Eevil\u202C',
  '\u200B\u200D\uFEFF',
  '👩🏽‍⚕️🩺💉',
  '𝕳𝖊𝖑𝖑𝖔',
  'é',
  '\r\n\t\b\f',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'; DROP TABLE visits; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, sent as text
  '${jndi:ldap://x}',
  '{{7*7}}',
  '%00%2e%2e%2f',
  '../../../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'true',
  'null',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e308',
  '-0',
  '0x10',
  ' 12 ',
  '1e400',
  '9007199254740993',
  'x'.repeat(5000),
  '\u0000'.repeat(300),
  '😀'.repeat(2000),
  'ا'.repeat(1000),
];

export const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 300 }) },
);

/** Number literals: huge, tiny, negative zero, past double range, more digits than any double. */
export const NUMBER_LITERALS = [
  '0',
  '-0',
  '1',
  '-1',
  '0.5',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '1e309',
  '-1e309',
  '1e-400',
  '5e-324',
  '9007199254740993',
  '123456789012345678901234567890',
  '1671480433000',
  '99999999999',
  '100000000000',
  '2147483648',
  '-2147483649',
  '25',
  '26',
  '1000',
  '1e3',
  '1.0',
  '3.14159',
];

export const numberLiteral = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBER_LITERALS) },
  {
    weight: 1,
    arbitrary: fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .map((d) => (Object.is(d, -0) ? '-0' : String(d))),
  },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

/** Keys that pollute prototypes, known field names, and odd ones. */
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineGetter__',
  'polluted',
  'aud',
  'jwt',
  'sub',
  'nbf',
  'exp',
  'numHost',
  'numGuest',
  'provideShortUrls',
  'verticalType',
  'loginUrlForHost',
  'iterations',
  'saltLength',
  'subject',
  'start',
  'duration',
  'hosts',
  'guests',
  'devices',
  'crypto',
  'notify',
  'ticket',
  'data',
  'id',
  '',
  '\u0000',
  '\uD800',
  'a.b',
  '[0]',
];

export const hostileKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);

/** `{"__proto__": {"polluted": "yes"}}` and `{"constructor": {"prototype": {"polluted": "yes"}}}`. */
export const POLLUTERS: Tree[] = [
  obj([['__proto__', obj([['polluted', raw('yes')]])]]),
  obj([['constructor', obj([['prototype', obj([['polluted', raw('yes')]])]])]]),
  obj([['prototype', obj([['polluted', raw('yes')]])]]),
  obj([['__proto__', raw(null)]]),
  obj([['__proto__', raw('polluted')]]),
  obj([['__proto__', { t: 'arr', items: [raw('polluted')] }]]),
];

const leaf: fc.Arbitrary<Tree> = fc.oneof(
  { weight: 3, arbitrary: nastyString.map(raw) },
  { weight: 3, arbitrary: numberLiteral.map((text): Tree => ({ t: 'raw', text })) },
  { weight: 1, arbitrary: fc.constantFrom<Tree>(raw(true), raw(false), raw(null), raw([]), raw({})) },
  { weight: 1, arbitrary: fc.constantFrom(...POLLUTERS) },
);

/** Any JSON value with hostile keys and leaves, a few levels deep. */
export const hostileTree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ t: 'arr', items })),
    fc.array(fc.tuple(hostileKey, tie('tree')), { maxLength: 5 }).map((entries) => obj(entries)),
  ),
})).tree;

/** A hostile object (the top level of a body). */
export const hostileObject: fc.Arbitrary<Tree> = fc
  .array(fc.tuple(hostileKey, hostileTree), { maxLength: 6 })
  .map((entries) => obj(entries));

/** `depth` nested arrays, or objects (`{"a":{"a":…}}`), as text. */
export function deepJson(depth: number, kind: 'array' | 'object' | 'proto'): string {
  if (kind === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const key = kind === 'proto' ? '__proto__' : 'a';
  return `${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** JSON that is not JSON: truncated, trailing commas, comments, NaN, single quotes, BOM, binary. */
export const MALFORMED_JSON = [
  '{',
  '}',
  '{"a":',
  '{"a":1,}',
  '[1,2,',
  "{'a':1}",
  '{a:1}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":-Infinity}',
  '{"a":undefined}',
  '{"a":0x10}',
  '{"a":01}',
  '{"a":1e}',
  '{"a":.5}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"unterminated}',
  '{"a":1} trailing',
  '{"a":1}{"b":2}',
  '// comment\n{}',
  '/* c */{}',
  '\u0000',
  '{"a":"\u0000"}',
  'nul',
  'tru',
  '"',
  '\\',
  '{"__proto__":',
  '{"__proto__":{"polluted":"yes"}',
  '\u00ff\u00fe{',
  ' ',
  '\n\n',
];

export const malformedJson = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...MALFORMED_JSON) },
  {
    weight: 1,
    // A valid body cut short.
    arbitrary: fc
      .tuple(hostileObject, fc.nat())
      .map(([tree, n]) => {
        const text = jsonText(tree);
        return text.slice(0, n % Math.max(1, text.length - 1));
      })
      .filter((text) => text.trim().length > 0 && !isJson(text)),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 200 })
      .map((bytes) => Buffer.from(bytes).toString('latin1'))
      .filter((text) => text.trim().length > 0 && !isJson(text)),
  },
);

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Content types that are not JSON. */
export const NOT_JSON_TYPES = [
  'text/plain',
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/javascript',
  'image/png',
  'json',
  'application/jsonx',
  'application/json-seq',
  'application/vnd.api+json',
  'application',
  '*/*',
  ';;;',
  'text/json',
];

/** Authorization values that are no valid key. */
export const BAD_AUTHORIZATION = [
  'Bearer',
  'Bearer ',
  'Bearer  ',
  'Basic dXNlcjpwYXNz',
  'Bearer ic_live_',
  'Bearer ic_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'Bearer ic_test_x',
  'Bearer null',
  'Bearer undefined',
  'Bearer __proto__',
  `Bearer ${'a'.repeat(4000)}`,
  'Token abc',
  'bearer',
  'Bearer a b c',
  'Bearer %00',
  'Bearer \u00ff\u00fe',
  'Digest username="x"',
];

/** A random JWE-shaped string: 5 base64url segments. */
export const b64url = (maxLength = 400) =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes).toString('base64url'));

export const forgedCipher: fc.Arbitrary<string> = fc.oneof(
  fc.array(b64url(300), { minLength: 5, maxLength: 5 }).map((s) => s.join('.')),
  fc.array(b64url(100), { minLength: 0, maxLength: 8 }).map((s) => s.join('.')),
  b64url(2000),
  nastyString,
  fc
    .tuple(
      fc.record({
        alg: fc.constantFrom('PBES2-HS512+A256KW', 'PBES2-HS256+A128KW', 'dir', 'none', 'RSA-OAEP'),
        enc: fc.constantFrom('A256GCM', 'A128CBC-HS256', 'none'),
        p2c: fc.oneof(fc.constantFrom(1000, 0, -1, 1e308, 2 ** 31, 10_000_000, 1.5), fc.integer()),
        p2s: b64url(32),
        kid: fc.oneof(nastyString, fc.constant('x')),
        cty: fc.constantFrom('JWT', 'jwt', ''),
        zip: fc.constantFrom(undefined, 'DEF'),
      }),
      fc.array(b64url(80), { minLength: 4, maxLength: 4 }),
    )
    .map(([header, rest]) => [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.')),
);

/** Percent-encodes a value for a URL (lone surrogates become U+FFFD, as a browser sends them). */
export const q = (value: string) =>
  encodeURIComponent(
    value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'),
  );

/** Whether a URL part holds a %-encoding that does not decode to UTF-8 (the router refuses it: 400). */
export function malformedPercent(part: string): boolean {
  try {
    decodeURIComponent(part);
    return false;
  } catch {
    return true;
  }
}

/** Percent-encoded bytes that are no UTF-8 (a lone surrogate, overlong forms, stray continuation). */
export const BAD_PERCENT = [
  '%ED%A0%80',
  '%C0%AE',
  '%FF',
  '%80',
  '%E0%A4%A',
  '%',
  '%%',
  '%zz',
  '%00',
  '%u0041',
];

/**
 * Every route the app registered, as `{url, methods}`, read from fastify's own route tree
 * (`printRoutes`), so a route added later is fuzzed too (and the coverage check names it).
 */
export function appRoutes(app: { printRoutes(options?: { commonPrefix?: boolean }): string }): {
  url: string;
  methods: string[];
}[] {
  const stack: string[] = [];
  const out: { url: string; methods: string[] }[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[└├]── (.+?) \(([^)]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const parent = stack[depth - 1] ?? '';
    const segment = match[2]!;
    const url =
      depth === 0
        ? segment
        : `${parent === '/' ? '' : parent}${segment.startsWith('/') ? '' : '/'}${segment}`;
    stack[depth] = url;
    stack.length = depth + 1;
    out.push({ url, methods: match[3]!.split(', ') });
  }
  return out;
}

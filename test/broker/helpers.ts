/**
 * Shared helpers of the broker's HTTP tests: requests through `app.inject()` (or `fetch`), the
 * Webex error envelope, and an independent look inside tokens (the JWE header by hand, the
 * crypto with node-jose and the broker's own keys read back from its store).
 */
import assert from 'node:assert/strict';
import jose from 'node-jose';
import { type BrokerKey, parseKey } from '../../src/crypto/keys.js';
import { AUDIENCE } from '../../src/domain/constants.js';
import { testFetch } from '../support/inject-fetch.js';
import type { TestServer } from '../support/server.js';

export { AUDIENCE };

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON when the body is JSON, else the text. */
  body: any;
  text: string;
}

/**
 * One request, body read in full; JSON bodies parsed. Redirects are never followed. A test
 * server's requests go through `app.inject()` (unless it was started with `sockets: true`).
 */
export async function call(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const response = await testFetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('application/json')) body = JSON.parse(text);
  return { status: response.status, headers: response.headers, body, text };
}

/** The body of a minimal joseencrypt request plus `extra` (fast iterations unless told otherwise). */
export function joseBody(sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { aud: AUDIENCE, jwt: { sub }, iterations: 1000, ...extra };
}

/** POST /api/{version}/joseencrypt with the server's key (or `key`), JSON body. */
export function encrypt(
  server: TestServer,
  body: unknown,
  options: { version?: 'v1' | 'v2'; key?: string } = {},
): Promise<HttpAnswer> {
  return call(`${server.url}/api/${options.version ?? 'v2'}/joseencrypt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.key ?? server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Issues links and returns the v2 answer; fails the test unless it is a 200. */
export async function issue(
  server: TestServer,
  sub: string,
  extra: Record<string, unknown> = {},
): Promise<
  { host: { cipher: string; short?: string }[]; guest: { cipher: string; short?: string }[] } & {
    baseUrl?: string;
  }
> {
  const answer = await encrypt(server, joseBody(sub, extra));
  assert.equal(answer.status, 200, answer.text);
  return answer.body;
}

/** The decoded JSON text of a token's protected header (segment 0), exactly as written. */
export function headerText(cipher: string): string {
  return Buffer.from(cipher.split('.')[0]!, 'base64url').toString('utf8');
}

export function headerOf(cipher: string): Record<string, unknown> {
  return JSON.parse(headerText(cipher));
}

/** The token with its protected header replaced by `edit(header)` (the other segments untouched). */
export function forgeHeader(cipher: string, edit: (header: Record<string, unknown>) => unknown): string {
  const [, ...rest] = cipher.split('.');
  return [Buffer.from(JSON.stringify(edit(headerOf(cipher)))).toString('base64url'), ...rest].join('.');
}

/** Every broker key, read from the store the server writes (not from its keyring). */
export async function storedKeys(server: TestServer): Promise<BrokerKey[]> {
  const stored = await server.server.context.store.listBrokerKeys();
  return stored.map((s) => parseKey(s.material));
}

export interface Opened {
  /** The JWE protected header as node-jose read it. */
  jweHeader: Record<string, unknown>;
  /** The inner JWS header. */
  jwsHeader: Record<string, unknown>;
  claims: Record<string, any>;
}

/**
 * Opens a token with node-jose (an implementation independent of the broker's): decrypts the
 * JWE with the key's PBES2 password, then verifies the inner JWS with its HMAC key.
 */
export async function openWithNodeJose(cipher: string, key: BrokerKey): Promise<Opened> {
  const password = await jose.JWK.asKey({
    kty: 'oct',
    k: Buffer.from(key.encryptionSecret).toString('base64url'),
  });
  const decrypted = await jose.JWE.createDecrypt(password).decrypt(cipher);
  const hmacKey = await jose.JWK.asKey({
    kty: 'oct',
    k: Buffer.from(key.signingSecret).toString('base64url'),
  });
  const verified = await jose.JWS.createVerify(hmacKey).verify(decrypted.payload.toString('utf8'));
  return {
    jweHeader: decrypted.header,
    jwsHeader: verified.header,
    claims: JSON.parse(verified.payload.toString('utf8')),
  };
}

/** Opens a token with the stored key its `kid` names. */
export async function openStored(server: TestServer, cipher: string): Promise<Opened> {
  const kid = headerOf(cipher)['kid'];
  const key = (await storedKeys(server)).find((k) => k.kid === kid);
  assert.ok(key, `no stored broker key with kid ${String(kid)}`);
  return openWithNodeJose(cipher, key);
}

/**
 * Asserts an error answer: the status, Webex's envelope `{message, errors:[{description}],
 * trackingId}` with our `code`, and the `TrackingID` header equal to the body's trackingId.
 */
export function assertEnvelope(answer: HttpAnswer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  const body = answer.body;
  assert.equal(typeof body, 'object', answer.text);
  assert.equal(body.code, code, answer.text);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, 'errors must list at least one');
  for (const e of body.errors) {
    assert.equal(typeof e.description, 'string');
    assert.ok(e.description.length > 0);
  }
  assert.match(body.trackingId, /^IC_[0-9a-f-]{36}$/);
  assert.equal(answer.headers.get('trackingid'), body.trackingId);
}

/** Asserts an HTML page with `status` and returns its text. */
export function assertHtml(answer: HttpAnswer, status: number): string {
  assert.equal(answer.status, status, answer.text.slice(0, 300));
  assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(answer.text, /^<!doctype html>/);
  return answer.text;
}

export const HTML = { accept: 'text/html,application/xhtml+xml' };

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The long link of a cipher on this server, as the broker's short links point to it. */
export function longPath(vertical: 'gen' | 'hc', page: 'login' | 'talk', cipher: string): string {
  return `/${vertical}/v1/${page}?int=jose&v=1&data=${encodeURIComponent(cipher)}`;
}

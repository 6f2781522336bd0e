import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  codeOfRemoteStatus,
  codeOfStatus,
  DatabaseUnavailableError,
  ERROR_RESPONSES,
  ERROR_STATUS,
  ERRORS,
  type ErrorCode,
  HTTP_STATUSES,
  HttpError,
  InstantConnectError,
  messageOf,
  OverloadedError,
  RateLimitedError,
  retriesAfter,
} from './errors.js';

const sources = (dir: string, out: string[] = []): string[] => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
};

describe('error registry', () => {
  it('declares every InstantConnectError class (none lives outside src/errors.ts)', () => {
    const srcDir = new URL('.', import.meta.url).pathname;
    const ours = readFileSync(join(srcDir, 'errors.ts'), 'utf8');
    const declared = new Set([...ours.matchAll(/export class (\w+) extends/g)].map((m) => m[1]));
    const outside: string[] = [];
    for (const file of sources(srcDir)) {
      if (file.endsWith('/src/errors.ts')) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/class (\w+) extends (\w+)/g)) {
        if (m[2] === 'InstantConnectError' || declared.has(m[2]!)) outside.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  it('derives ERROR_STATUS from ERRORS', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[])
      assert.equal(ERROR_STATUS[code], ERRORS[code].status);
    assert.equal(Object.keys(ERROR_STATUS).length, Object.keys(ERRORS).length);
  });

  it('gives every status a code answers with (but 499 and 500) an OpenAPI response whose codes include it', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) {
      if (status === 499 || status === 500) continue;
      assert.ok(status in ERROR_RESPONSES, `${code}: ${status} has no response`);
    }
    for (const [status, spec] of Object.entries(HTTP_STATUSES))
      if ('response' in spec) assert.equal(ERRORS[spec.code].status, Number(status));
  });

  it('maps bare and remote statuses to codes', () => {
    assert.equal(codeOfStatus(413), 'ERR_BODY_TOO_LARGE');
    assert.equal(codeOfStatus(408), 'ERR_TIMEOUT');
    assert.equal(codeOfStatus(418), 'ERR_VALIDATION');
    assert.equal(codeOfRemoteStatus(401), 'ERR_UNAUTHORIZED');
    assert.equal(codeOfRemoteStatus(429), 'ERR_RATE_LIMITED');
    assert.equal(codeOfRemoteStatus(400), 'ERR_BROKER_HTTP');
    assert.equal(codeOfRemoteStatus(500), 'ERR_BROKER_HTTP');
  });

  it('carries retryAfter as a field of the error, for the codes retried after it', () => {
    assert.deepEqual(
      [429, 503, 400, 502].map((s) => retriesAfter(s)),
      [true, true, false, false],
    );
    const limited = new RateLimitedError('Too many', 7);
    assert.equal(limited.retryAfter, 7);
    assert.equal(limited.retry, 'after');
    assert.equal(new OverloadedError(3).retryAfter, 3);
    assert.equal(new OverloadedError(3).message, 'The server is busy; retry in 3 s.');
    assert.equal(new DatabaseUnavailableError(new Error('x')).retryAfter, 2);
    const remote = new HttpError('slow down', {
      status: 429,
      descriptions: [],
      retryAfter: 5,
      url: 'http://x',
    });
    assert.equal(remote.code, 'ERR_RATE_LIMITED');
    assert.equal(remote.retryAfter, 5);
    assert.equal(new InstantConnectError('ERR_CONFLICT', 'no').retryAfter, undefined);
    assert.ok(!('retryAfter' in new HttpError('no', { status: 400, descriptions: [], url: 'http://x' })));
  });

  it('fills message templates', () => {
    assert.equal(
      messageOf('ERR_BAD_RESPONSE', { detail: 'no links' }),
      "The broker's response was not understood: no links",
    );
    assert.equal(messageOf('ERR_INTERNAL'), 'Something went wrong on our side');
  });
});

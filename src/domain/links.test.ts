import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadResponseError } from '../errors.js';
import { mergeLinkSets, normaliseResponse } from './links.js';

const ctx = { linkBaseUrl: 'https://instant.webex.com', vertical: 'hc' as const, hostLogin: true };

test('v2 with short links: every URL form', () => {
  const set = normaliseResponse(
    {
      host: [{ cipher: 'h.h.h.h.h', short: 'Kuyqdx3' }],
      guest: [{ cipher: 'g.g.g.g.g', short: 'LCFCNRz' }],
      baseUrl: 'https://instant.webex.com/visit/',
    },
    { ...ctx, expect: { hosts: 1, guests: 1 } },
  );
  assert.deepEqual(set, {
    baseUrl: 'https://instant.webex.com/visit/',
    hosts: [
      {
        role: 'host',
        index: 0,
        cipher: 'h.h.h.h.h',
        short: 'Kuyqdx3',
        shortUrl: 'https://instant.webex.com/visit/Kuyqdx3',
        longUrl: 'https://instant.webex.com/hc/v1/login?int=jose&v=1&data=h.h.h.h.h',
        forcedLoginUrl: 'https://instant.webex.com/hc/v1/login?int=jose&v=1&fli=true&data=h.h.h.h.h',
      },
    ],
    guests: [
      {
        role: 'guest',
        index: 0,
        cipher: 'g.g.g.g.g',
        short: 'LCFCNRz',
        shortUrl: 'https://instant.webex.com/visit/LCFCNRz',
        longUrl: 'https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=g.g.g.g.g',
      },
    ],
  });
});

test('v1 string arrays normalise to the same shape without short links', () => {
  const set = normaliseResponse({ host: ['h.h.h.h.h'], guest: ['g.g.g.g.g', 'k.k.k.k.k'] }, ctx);
  assert.equal(set.baseUrl, undefined);
  assert.equal(set.hosts[0]?.shortUrl, undefined);
  assert.equal(set.guests[1]?.cipher, 'k.k.k.k.k');
  assert.equal(set.guests[1]?.index, 1);
  assert.equal(set.guests[1]?.forcedLoginUrl, undefined);
});

test('garbage and mismatched responses are BadResponseErrors', () => {
  for (const body of [
    null,
    [],
    'x',
    {},
    { host: 'x' },
    { host: [1] },
    { host: [{ cipher: '' }] },
    { host: [], baseUrl: 3 },
  ]) {
    assert.throws(() => normaliseResponse(body, ctx), BadResponseError, JSON.stringify(body));
  }
  assert.throws(
    () => normaliseResponse({ host: ['a'], guest: [] }, { ...ctx, expect: { hosts: 1, guests: 1 } }),
    /asked for 1 host and 1 guest links, got 1 and 0/,
  );
});

test('merged batches keep order and renumber', () => {
  const a = normaliseResponse({ host: ['h1'], guest: ['g1'] }, ctx);
  const b = normaliseResponse(
    { host: [], guest: [{ cipher: 'g2', short: 's2' }], baseUrl: 'https://x/visit/' },
    ctx,
  );
  const merged = mergeLinkSets([a, b]);
  assert.deepEqual(
    merged.guests.map((l) => [l.index, l.cipher]),
    [
      [0, 'g1'],
      [1, 'g2'],
    ],
  );
  assert.equal(merged.baseUrl, 'https://x/visit/');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fastifyTrustProxy, parseTrustProxy } from './trust-proxy.js';

test('TRUST_PROXY: off by default, true/false, a hop count, or addresses and CIDRs', () => {
  assert.equal(parseTrustProxy(undefined), false);
  assert.equal(parseTrustProxy(''), false);
  assert.equal(parseTrustProxy('false'), false);
  assert.equal(parseTrustProxy('0'), false);
  assert.equal(parseTrustProxy('TRUE'), true);
  assert.deepEqual(parseTrustProxy('1'), { hops: 1 });
  assert.deepEqual(parseTrustProxy(' 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8,loopback'), {
    addresses: ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback'],
  });
});

test('a bad TRUST_PROXY names the variable and the rule', () => {
  for (const bad of ['yes', '10.0.0.0/33', '::1/129', '10.0.0.1/8/9', '10.0.0', '127.0.0.1,', '99']) {
    assert.throws(
      () => parseTrustProxy(bad),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_VALIDATION' && /^TRUST_PROXY must be/.test(err.message),
      bad,
    );
  }
});

test('a hop count reaches fastify as a function (fastify turns a bare number off)', () => {
  const fn = fastifyTrustProxy({ hops: 2 });
  assert.equal(typeof fn, 'function');
  const trust = fn as (address: string, hop: number) => boolean;
  assert.deepEqual(
    [0, 1, 2].map((hop) => trust('192.0.2.1', hop)),
    [true, true, false],
  );
  assert.equal(fastifyTrustProxy(false), false);
  assert.equal(fastifyTrustProxy(undefined), false);
  assert.deepEqual(fastifyTrustProxy({ addresses: ['10.0.0.0/8'] }), ['10.0.0.0/8']);
});

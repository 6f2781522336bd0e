import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { OPERATIONS } from '../../contract/operations.js';
import { contractOf, routeUrl } from '../../contract/routes.js';
import { requireContracts } from './contract.js';

test('a route without a contract cannot be registered', async () => {
  const app = Fastify();
  requireContracts(app);
  assert.throws(
    () => app.get('/not-in-the-contract', async () => 'no'),
    /GET \/not-in-the-contract has no contract/,
  );
  assert.throws(() => app.put('/api/visits/:id', async () => 'no'), /PUT \/api\/visits\/:id has no contract/);
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.ready();
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  await app.close();
});

test('every contract entry has one route key, and HEAD is its GET', () => {
  const keys = OPERATIONS.map((op) => `${op.method} ${routeUrl(op)}`);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(contractOf('HEAD', '/assets/*')?.operationId, 'asset');
  assert.equal(contractOf('GET', '/api/visits/:id')?.operationId, 'getVisit');
  assert.equal(contractOf('POST', '/healthz'), undefined);
});

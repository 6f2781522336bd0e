import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import Type from 'typebox';
import { VisitIdParams } from '../contract/schemas.js';
import type { Org } from '../store/types.js';
import { route } from './route.js';
import { provideSecurity, type SchemeResolver, type SecuritySchemes } from './security.js';

const org = { id: 'org_1', name: 'Org' } as Org;
const resolver = (name: string, header: string): SchemeResolver => ({
  present: (request) => request.headers[header] !== undefined,
  async resolve(request) {
    if (request.headers[header] !== 'good')
      throw Object.assign(new Error(`${name} refused`), { statusCode: 401 });
    return { org, actor: name };
  },
});
const signed = resolver('hook', 'x-ic-hook');
const schemes: SecuritySchemes = {
  apiKey: resolver('key', 'authorization'),
  hookId: signed,
  hookTimestamp: signed,
  hookSignature: signed,
  sparkSignature: 'handler',
  twilioSignature: 'handler',
  staffSession: 'handler',
};

test('route() takes method and URL from the contract, and refuses an operation it does not declare', async () => {
  const app = Fastify();
  route(app, 'health', async () => ({ status: 'ok' }));
  assert.throws(() => route(app, 'noSuchOperation', async () => 'no'), /No operation noSuchOperation/);
  // Typed params must be the path's.
  assert.throws(
    () => route(app, 'ready', async () => 'no', { schema: { params: VisitIdParams } }),
    /params id are not the path's/,
  );
  provideSecurity(app, schemes);
  route(app, 'getVisit', async (request) => ({ id: request.params.id, by: request.caller?.actor }), {
    schema: { params: Type.Object({ id: Type.String() }) },
  });
  await app.ready();
  assert.equal((await app.inject('/healthz')).json().status, 'ok');
  assert.equal((await app.inject('/api/visits/x')).statusCode, 401);
  const read = await app.inject({ url: '/api/visits/vis_1', headers: { authorization: 'good' } });
  assert.deepEqual(read.json(), { id: 'vis_1', by: 'key' });
  await app.close();
});

test('an operation with security cannot be registered without its resolvers', () => {
  const app = Fastify();
  assert.throws(
    () => route(app, 'listVisits', async () => 'no'),
    /no resolver for the security scheme apiKey/,
  );
});

test('alternatives: the first whose credentials the request carries, else the last', async () => {
  const app = Fastify();
  provideSecurity(app, schemes);
  route(app, 'triggerVisit', async (request) => ({ by: request.caller?.actor }));
  await app.ready();
  const by = async (headers: Record<string, string>) =>
    (await app.inject({ method: 'POST', url: '/hooks/visits', headers })).json();
  assert.deepEqual(await by({ authorization: 'good' }), { by: 'key' });
  assert.deepEqual(await by({ 'x-ic-hook': 'good' }), { by: 'hook' });
  // Neither: the last alternative (the signature) refuses, naming what is missing.
  assert.match((await by({})).message, /hook refused/);
  await app.close();
});

test('the server registers its routes through route() only (so the contract’s security always applies)', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const root = new URL('./', import.meta.url);
  const offenders: string[] = [];
  for (const entry of await readdir(root, { recursive: true })) {
    const file = String(entry);
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const text = await readFile(new URL(file, root), 'utf8');
    for (const match of text.matchAll(/\bapp\.(get|head|post|put|patch|delete|options|all|route)\s*[<(]/g)) {
      // app.ts: the generated 405 answers of known paths (no operation of their own).
      if (file === 'app.ts' && match[1] === 'route') continue;
      offenders.push(`${file}: app.${match[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

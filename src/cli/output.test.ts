/** `links` output helpers: the shape `--field` is checked against is the shape the SDK returns. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ScriptedServer, startScriptedServer } from '../../test/support/scripted-server.js';
import { InstantConnect } from '../client/instant-connect.js';
import { resolveLinkInput } from '../domain/input.js';
import type { JoseEncryptRequest } from '../domain/schema.js';
import { pickField, resultShape } from './output.js';

let server: ScriptedServer;
before(async () => {
  server = await startScriptedServer();
  server.setHandler((request) => {
    const body = request.body as JoseEncryptRequest;
    const entry = (role: string) => (_: unknown, i: number) =>
      body.provideShortUrls
        ? { cipher: `eyJ${role}${i}.a.b.c.d`, short: `${role}${i}` }
        : { cipher: `eyJ${role}${i}.a.b.c.d` };
    return {
      body: {
        host: Array.from({ length: body.numHost ?? 1 }, entry('h')),
        guest: Array.from({ length: body.numGuest ?? 1 }, entry('g')),
        ...(body.provideShortUrls ? { baseUrl: `${server.url}/visit/` } : {}),
      },
    };
  });
});
after(() => server.close());

/** Every path to a leaf, `guests.1.shortUrl` style. */
function paths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  return Object.entries(value).flatMap(([k, v]) => paths(v, prefix ? `${prefix}.${k}` : k));
}

for (const input of [
  { hosts: 1, guests: 2, shortUrls: true, notBefore: 4_000_000_000, ttl: '45m' },
  { hosts: 2, guests: 1, shortUrls: false },
]) {
  test(`resultShape has exactly the fields of a real result (${JSON.stringify(input)})`, async () => {
    const sdk = new InstantConnect({ broker: server.url, token: 'k' });
    const real = await sdk.createLinks(input);
    const shape = resultShape(resolveLinkInput(input, { now: Math.floor(Date.now() / 1000) }));
    assert.deepEqual(paths(shape).sort(), paths(real).sort());
  });
}

test('pickField on the shape refuses a path the result will not have, before any call', () => {
  const shape = resultShape(resolveLinkInput({ hosts: 1, guests: 1 }, { now: 1_800_000_000 }));
  assert.throws(() => pickField(shape, 'nope'), /--field: the result has no "nope"/);
  assert.throws(
    () => pickField(shape, 'guests.0.shortUrl'),
    /stopped at "shortUrl"/,
    'no short links asked for',
  );
  assert.throws(() => pickField(shape, 'guests.1'), /stopped at "1"/);
  assert.doesNotThrow(() => pickField(shape, 'hosts.0.forcedLoginUrl'));
});

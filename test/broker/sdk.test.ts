/**
 * The SDK against the project's own broker, both real, over HTTP on 127.0.0.1: batching past
 * 25 links, short URLs that resolve to the SDK's long URLs, and one space for one subject.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InstantConnect } from '../../src/client/instant-connect.js';
import { HttpError } from '../../src/errors.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, headerOf } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

test('60 links in 3 calls: every short URL redirects to its long URL, and all share one space', async () => {
  const sdk = new InstantConnect({ broker: server.url, token: server.key, concurrency: 2 });
  const progress: number[] = [];
  const result = await sdk.createLinks(
    { subject: 'sixty', hosts: 1, guests: 59, shortUrls: true, crypto: { iterations: 1000 } },
    { onProgress: (done, total) => progress.push(done * 100 + total) },
  );
  assert.equal(result.calls, 3);
  assert.deepEqual(progress, [103, 203, 303]);
  assert.equal(result.subject, 'sixty');
  assert.equal(result.subjectGenerated, false);
  assert.equal(result.environment, 'custom');
  assert.equal(result.brokerUrl, server.url);
  assert.equal(result.baseUrl, `${server.url}/visit/`);
  assert.equal(result.hosts.length, 1);
  assert.equal(result.guests.length, 59);
  const links = [...result.hosts, ...result.guests];
  assert.equal(links.length, 60);
  assert.deepEqual(
    result.guests.map((l) => l.index),
    Array.from({ length: 59 }, (_, i) => i),
  );
  assert.equal(new Set(links.map((l) => l.cipher)).size, 60);
  assert.equal(new Set(links.map((l) => l.short)).size, 60);

  const spaces = new Set<string>();
  const visits = new Set<string>();
  for (const link of links) {
    assert.match(link.short ?? '', /^[A-Za-z0-9]{7}$/);
    assert.equal(link.shortUrl, `${server.url}/visit/${link.short}`);
    assert.equal(headerOf(link.cipher)['p2c'], 1000);
    // The short URL resolves on this server to exactly the SDK's long URL.
    const redirect = await call(link.shortUrl!);
    assert.equal(redirect.status, 302, redirect.text);
    assert.equal(redirect.headers.get('location'), link.longUrl);
    const page = link.role === 'host' ? 'login' : 'talk';
    assert.ok(link.longUrl.startsWith(`${server.url}/hc/v1/${page}?int=jose&v=1&data=`), link.longUrl);
    // The space API answers each link, in one space.
    const space = await call(`${server.url}/api/v1/space/?int=jose&data=${encodeURIComponent(link.cipher)}`);
    assert.equal(space.status, 200, space.text);
    assert.equal(space.body.isHost, link.role === 'host');
    spaces.add(space.body.spaceId);
    visits.add(space.body.visitId);
  }
  assert.equal(spaces.size, 1, 'one subject, one space');
  assert.equal(visits.size, 1);
  // The host's forced-login URL is the long link's page too.
  const forced = await call(result.hosts[0]!.forcedLoginUrl!, { headers: { accept: 'text/html' } });
  assert.equal(forced.status, 200);
});

test('v1 through the SDK: the same links, no short URLs', async () => {
  const sdk = new InstantConnect({ broker: server.url, token: server.key, apiVersion: 'v1' });
  const result = await sdk.createLinks({ hosts: 2, guests: 3, crypto: { iterations: 1000 } });
  assert.equal(result.calls, 1);
  assert.equal(result.subjectGenerated, true);
  assert.equal(result.hosts.length, 2);
  assert.equal(result.guests.length, 3);
  for (const link of [...result.hosts, ...result.guests]) {
    assert.equal(link.short, undefined);
    const page = await call(link.longUrl, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.text, />Valid</);
  }
});

test("the broker's refusal reaches the SDK caller as an HttpError with the broker's status and trackingId", async () => {
  const sdk = new InstantConnect({
    broker: server.url,
    token: 'ick_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    retry: { retries: 0 },
  });
  await assert.rejects(
    sdk.createLinks({ subject: 'refused', crypto: { iterations: 1000 } }),
    (error: unknown) => {
      assert.ok(error instanceof HttpError, String(error));
      assert.equal(error.status, 401);
      assert.match(String(error.trackingId ?? ''), /^IC_/);
      return true;
    },
  );
});

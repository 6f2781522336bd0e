/**
 * The behaviour every Store must have. Each backend's test file runs this same suite
 * (the same tests, not a copy), so SQLite and PostgreSQL cannot drift apart.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type {
  ApiKeyRecord,
  EventRecord,
  ShortLinkRecord,
  Store,
  VisitRecord,
} from '../../src/store/types.js';

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    const org = { id: randomUUID(), name: 'Clinic', createdAt: 1_795_876_200 };
    before(async () => {
      store = await open();
      await store.migrate();
      await store.migrate(); // idempotent
      await store.createOrg(org);
    });
    after(async () => {
      await store.close();
    });

    test('ping and organisations', async () => {
      await store.ping();
      assert.deepEqual(await store.getOrg(org.id), org);
      assert.equal(await store.getOrg(randomUUID()), undefined);
      assert.ok(await store.getDefaultOrg());
    });

    test('API keys: create, find by hash, touch coarsely, list, revoke once', async () => {
      const key: ApiKeyRecord = {
        id: `key_${randomUUID()}`,
        orgId: org.id,
        name: 'ehr',
        prefix: 'ick_ab',
        hash: randomUUID().replaceAll('-', ''),
        createdAt: 100,
      };
      await store.createApiKey(key);
      assert.deepEqual(await store.findApiKeyByHash(key.hash), key);
      await store.touchApiKey(key.id, 200);
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 200);
      await store.touchApiKey(key.id, 230, 60); // within a minute: no write
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 200);
      await store.touchApiKey(key.id, 300, 60);
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 300);
      assert.ok((await store.listApiKeys(org.id)).some((k) => k.id === key.id));
      assert.equal(await store.revokeApiKey(org.id, key.id, 400), true);
      assert.equal(await store.revokeApiKey(org.id, key.id, 500), false);
      assert.equal((await store.findApiKeyByHash(key.hash))?.revokedAt, 400);
      assert.equal(await store.revokeApiKey(randomUUID(), key.id, 500), false);
      await assert.rejects(store.createApiKey({ ...key, id: 'other' }), 'a hash is unique');
    });

    test('broker keys: one active at a time, newest first', async () => {
      await store.addBrokerKey({ kid: 'k1', material: 'm1', createdAt: 1, active: true });
      await store.addBrokerKey({ kid: 'k2', material: 'm2', createdAt: 2, active: true });
      const keys = await store.listBrokerKeys();
      assert.deepEqual(
        keys.map((k) => [k.kid, k.active]),
        [
          ['k2', true],
          ['k1', false],
        ],
      );
    });

    test('short links: stored whole, all or none on a taken code', async () => {
      const link = (code: string): ShortLinkRecord => ({
        code,
        orgId: org.id,
        cipher: `cipher-${code}`,
        role: 'host',
        vertical: 'gen',
        hostLogin: false,
        subject: 'Visit 42',
        expiresAt: 2_000_000_000,
        createdAt: 1_795_876_200,
      });
      assert.deepEqual(await store.insertShortLinks([link('Abc1234'), link('Abc1235')]), []);
      assert.deepEqual(await store.getShortLink('Abc1234'), link('Abc1234'));
      assert.equal(await store.getShortLink('abc1234'), undefined, 'codes are case-sensitive');
      assert.deepEqual(await store.insertShortLinks([link('Zzz9999'), link('Abc1235')]), ['Abc1235']);
      assert.equal(
        await store.getShortLink('Zzz9999'),
        undefined,
        'nothing inserted when one code was taken',
      );
      assert.deepEqual(await store.insertShortLinks([link('Dup0000'), link('Dup0000')]), ['Dup0000']);
    });

    const visit = (id: string, extra: Partial<VisitRecord> = {}): VisitRecord => ({
      id,
      orgId: org.id,
      subject: `Subject ${id}`,
      status: 'pending',
      expiresAt: 2000,
      vertical: 'hc',
      hostLogin: true,
      shortUrls: true,
      devices: ['room@example.com'],
      source: 'local',
      createdBy: 'key:k1',
      createdAt: 100,
      hosts: 1,
      guests: 1,
      ...extra,
    });
    const event = (visitId: string, type: string): EventRecord => ({
      orgId: org.id,
      visitId,
      at: 100,
      actor: 'key:k1',
      type,
      data: { note: type },
    });

    test('visits: created with links and an event, found by id, subject and jti', async () => {
      const v = visit('vis_a', { notBefore: 500 });
      await store.createVisit(
        v,
        [
          {
            visitId: 'vis_a',
            role: 'host',
            index: 0,
            cipher: 'c-h',
            longUrl: 'L-h',
            forcedLoginUrl: 'F-h',
            jti: 'j-a-h',
          },
          {
            visitId: 'vis_a',
            role: 'guest',
            index: 0,
            cipher: 'c-g',
            short: 's',
            shortUrl: 'S',
            longUrl: 'L-g',
            jti: 'j-a-g',
          },
        ],
        event('vis_a', 'visit.created'),
      );
      assert.deepEqual(await store.getVisit(org.id, 'vis_a'), v);
      assert.equal(await store.getVisit(randomUUID(), 'vis_a'), undefined, 'another org cannot see it');
      assert.equal((await store.findVisitBySubject(org.id, 'Subject vis_a'))?.id, 'vis_a');
      const found = await store.findVisitLinkByJti('j-a-g');
      assert.equal(found?.visit.id, 'vis_a');
      assert.deepEqual(found?.link, {
        visitId: 'vis_a',
        role: 'guest',
        index: 0,
        cipher: 'c-g',
        short: 's',
        shortUrl: 'S',
        longUrl: 'L-g',
        jti: 'j-a-g',
      });
      assert.deepEqual(
        (await store.getVisitLinks('vis_a')).map((l) => l.role),
        ['host', 'guest'],
      );
      await store.addVisitLinks(
        org.id,
        'vis_a',
        [{ visitId: 'vis_a', role: 'guest', index: 1, cipher: 'c-g2', longUrl: 'L-g2' }],
        event('vis_a', 'visit.links_added'),
      );
      assert.equal((await store.getVisit(org.id, 'vis_a'))?.guests, 2);
      assert.deepEqual(
        (await store.listEvents(org.id, 'vis_a')).map((e) => [e.type, e.data['note']]),
        [
          ['visit.created', 'visit.created'],
          ['visit.links_added', 'visit.links_added'],
        ],
      );
    });

    test('visits: transitions are atomic and conditional', async () => {
      await store.createVisit(visit('vis_b'), [], event('vis_b', 'visit.created'));
      const live = await store.transitionVisit(
        org.id,
        'vis_b',
        ['pending'],
        'live',
        150,
        event('vis_b', 'visit.started'),
      );
      assert.equal(live?.status, 'live');
      assert.equal(live?.startedAt, 150);
      const results = await Promise.all([
        store.transitionVisit(
          org.id,
          'vis_b',
          ['pending', 'live'],
          'cancelled',
          160,
          event('vis_b', 'visit.cancelled'),
        ),
        store.transitionVisit(
          org.id,
          'vis_b',
          ['pending', 'live'],
          'cancelled',
          161,
          event('vis_b', 'visit.cancelled'),
        ),
      ]);
      assert.equal(results.filter(Boolean).length, 1, 'only one cancel wins');
      assert.equal(
        await store.transitionVisit(
          org.id,
          'vis_b',
          ['pending'],
          'live',
          170,
          event('vis_b', 'visit.started'),
        ),
        undefined,
      );
      assert.equal(
        (await store.listEvents(org.id, 'vis_b')).filter((e) => e.type === 'visit.cancelled').length,
        1,
        'a losing transition writes no event',
      );
      assert.equal(
        await store.findVisitBySubject(org.id, 'Subject vis_b'),
        undefined,
        'cancelled visits are not found by subject',
      );
    });

    test('visits: listed by derived state, window, subject search, paged', async () => {
      const now = 1000;
      await store.createVisit(
        visit('vis_s', { subject: 'Later 50%_off', notBefore: 1500, expiresAt: 1900 }),
        [],
        event('vis_s', 'c'),
      );
      await store.createVisit(
        visit('vis_o', { subject: 'Open one', expiresAt: 1900 }),
        [],
        event('vis_o', 'c'),
      );
      await store.createVisit(
        visit('vis_x', { subject: 'Expired one', expiresAt: 900 }),
        [],
        event('vis_x', 'c'),
      );
      const ids = async (q: Partial<Parameters<Store['listVisits']>[1]>) =>
        (await store.listVisits(org.id, { limit: 50, offset: 0, now, ...q })).items.map((v) => v.id).sort();
      assert.deepEqual(await ids({ state: 'scheduled' }), ['vis_s']);
      assert.ok((await ids({ state: 'open' })).includes('vis_o'));
      assert.ok(!(await ids({ state: 'open' })).includes('vis_s'));
      assert.deepEqual(await ids({ state: 'expired' }), ['vis_x']);
      assert.ok((await ids({ state: 'cancelled' })).includes('vis_b'));
      assert.deepEqual(await ids({ q: '50%_' }), ['vis_s'], 'LIKE wildcards in the search are literal');
      assert.deepEqual(await ids({ q: 'OPEN ONE' }), ['vis_o']);
      assert.deepEqual(await ids({ from: 950, to: 1200, state: 'open' }), ['vis_a', 'vis_o']);
      assert.deepEqual(await ids({ from: 950, to: 1200, state: 'scheduled' }), [], 'starts after the window');
      const page = await store.listVisits(org.id, { limit: 2, offset: 0, now });
      assert.equal(page.items.length, 2);
      assert.ok(page.total >= 5);
    });

    test('sessions: create, get, delete', async () => {
      const s = { hash: randomUUID(), orgId: org.id, apiKeyId: 'k', csrf: 'c', createdAt: 1, expiresAt: 2 };
      await store.createSession(s);
      assert.deepEqual(await store.getSession(s.hash), s);
      await store.deleteSession(s.hash);
      assert.equal(await store.getSession(s.hash), undefined);
    });

    test('spaces: same subject, same space; concurrent first use makes one', async () => {
      let made = 0;
      const make = () => {
        made += 1;
        return { id: randomUUID(), createdAt: 5 };
      };
      const [a, b] = await Promise.all([
        store.getOrCreateSpace(org.id, 'Visit 42', make),
        store.getOrCreateSpace(org.id, 'Visit 42', make),
      ]);
      assert.equal(a.id, b.id);
      const c = await store.getOrCreateSpace(org.id, 'Visit 43', make);
      assert.notEqual(c.id, a.id);
      assert.ok(c.seq > a.seq);
      assert.ok(made >= 2);
    });
  });
}

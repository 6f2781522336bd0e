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
import { eventStoreContract } from './event-store-contract.js';
import * as record from './store-records.js';

export function storeContract(
  name: string,
  open: () => Promise<Store>,
  /** `skip`: why this backend cannot run here (the suite shows as skipped with that reason). */
  options: { skip?: string } = {},
): void {
  describe(`Store contract: ${name}`, { skip: options.skip ?? false }, () => {
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

    eventStoreContract(() => store);

    test('ping and organisations', async () => {
      await store.ping();
      assert.deepEqual(await store.getOrg(org.id), org);
      assert.equal(await store.getOrg(randomUUID()), undefined);
      assert.ok(await store.getDefaultOrg());
    });

    test('schema status: every migration applied once migrated', async () => {
      const { applied, latest } = await store.schemaStatus();
      assert.ok(latest >= 1);
      assert.equal(applied, latest);
    });

    test('the default organisation: an existing one is kept, never a second made', async () => {
      const first = await store.getDefaultOrg();
      let made = 0;
      const results = await Promise.all(
        Array.from({ length: 3 }, () =>
          store.ensureDefaultOrg(() => {
            made += 1;
            return { id: randomUUID(), name: 'Second', createdAt: 1 };
          }),
        ),
      );
      assert.equal(made, 0);
      for (const r of results) assert.deepEqual(r, { org: first, created: false });
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

    test('broker keys: a replaced key retires after every recorded link, never before the floor given; the version changes', async () => {
      const v0 = await store.brokerKeysVersion();
      const k1 = (await store.listBrokerKeys()).find((k) => k.kid === 'k1')?.retiresAt;
      assert.equal(typeof k1, 'number', 'k1 stopped issuing when k2 was added');
      await store.addBrokerKey(
        { kid: 'k3', material: 'm3', createdAt: 3, active: true },
        { retireNotBefore: 9e9 },
      );
      const v1 = await store.brokerKeysVersion();
      assert.notEqual(v1, v0);
      let keys = await store.listBrokerKeys();
      assert.equal(keys.find((k) => k.kid === 'k2')?.retiresAt, 9e9, 'the floor, later than any link');
      assert.equal(keys.find((k) => k.kid === 'k3')?.retiresAt, undefined, 'the active key does not retire');
      assert.equal(keys.find((k) => k.kid === 'k1')?.retiresAt, k1, 'set once, when a key stops issuing');
      const [taken] = await store.insertShortLinks([
        {
          code: 'RetireAt1',
          orgId: org.id,
          cipher: 'cipher-retire',
          role: 'guest',
          vertical: 'gen',
          hostLogin: false,
          subject: 'retire',
          expiresAt: 8e9,
          createdAt: 4,
        },
      ]);
      assert.equal(taken, undefined);
      await store.addBrokerKey(
        { kid: 'k4', material: 'm4', createdAt: 4, active: true },
        { retireNotBefore: 5 },
      );
      assert.notEqual(await store.brokerKeysVersion(), v1);
      keys = await store.listBrokerKeys();
      assert.ok(
        (keys.find((k) => k.kid === 'k3')?.retiresAt ?? 0) >= 8e9,
        'not before the latest link expires',
      );
      assert.equal(
        await store.brokerKeysVersion(),
        await store.brokerKeysVersion(),
        'stable while nothing changes',
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
      waits: 0,
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
        event('vis_b', 'visit.live'),
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
        await store.transitionVisit(org.id, 'vis_b', ['pending'], 'live', 170, event('vis_b', 'visit.live')),
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
      assert.deepEqual(await ids({ states: ['scheduled', 'open'], q: 'one' }), ['vis_o']);
      assert.deepEqual(await ids({ states: ['scheduled', 'expired'], q: 'e' }), ['vis_s', 'vis_x']);
      assert.deepEqual(await ids({ states: [] }), []);
      const ordered = async (order: 'asc' | 'desc') =>
        (
          await store.listVisits(org.id, {
            limit: 50,
            offset: 0,
            now,
            order,
            states: ['scheduled', 'expired'],
          })
        ).items.map((v) => v.id);
      assert.deepEqual(await ordered('asc'), ['vis_x', 'vis_s'], 'soonest first');
      assert.deepEqual(await ordered('desc'), ['vis_s', 'vis_x'], 'newest first');
      const page = await store.listVisits(org.id, { limit: 2, offset: 0, now });
      assert.equal(page.items.length, 2);
      assert.ok(page.total >= 5);
    });

    test('gateway links: stored with their code, found by it; codes are unique', async () => {
      const code = `gw${randomUUID().slice(0, 8)}`;
      const v = visit('vis_gw1', { source: 'custom', gateway: true });
      await store.createVisit(
        v,
        [
          {
            visitId: 'vis_gw1',
            role: 'host',
            index: 0,
            cipher: 'c-gw1-h',
            longUrl: 'L',
            gatewayCode: `${code}h`,
          },
          { visitId: 'vis_gw1', role: 'guest', index: 0, cipher: 'c-gw1-g', longUrl: 'L', gatewayCode: code },
        ],
        event('vis_gw1', 'visit.created'),
      );
      assert.deepEqual(await store.getVisit(org.id, 'vis_gw1'), v);
      const found = await store.findGatewayLink(code);
      assert.equal(found?.visit.id, 'vis_gw1');
      assert.equal(found?.visit.gateway, true);
      assert.deepEqual(found?.link, {
        visitId: 'vis_gw1',
        role: 'guest',
        index: 0,
        cipher: 'c-gw1-g',
        longUrl: 'L',
        gatewayCode: code,
      });
      assert.equal(await store.findGatewayLink(`${code}x`), undefined);
      // A visit without a gateway reads back without the flag.
      assert.equal((await store.getVisit(org.id, 'vis_a'))?.gateway, undefined);
      await assert.rejects(
        store.createVisit(
          visit('vis_gw2', { source: 'custom', gateway: true }),
          [{ visitId: 'vis_gw2', role: 'guest', index: 0, cipher: 'c-gw2', longUrl: 'L', gatewayCode: code }],
          event('vis_gw2', 'visit.created'),
        ),
        'a code already in use is refused',
      );
      assert.equal(
        await store.getVisit(org.id, 'vis_gw2'),
        undefined,
        'nothing of the refused visit is stored',
      );
    });

    test('gateway links: an opening sets openedAt once and logs at most one event per interval', async () => {
      await store.createVisit(
        visit('vis_gw3', { source: 'custom', gateway: true }),
        [
          {
            visitId: 'vis_gw3',
            role: 'guest',
            index: 0,
            cipher: 'c-gw3',
            longUrl: 'L',
            gatewayCode: `g3${randomUUID().slice(0, 8)}`,
          },
        ],
        event('vis_gw3', 'visit.created'),
      );
      const open = (at: number) =>
        store.recordLinkOpening('vis_gw3', 'guest', 0, at, {
          logEverySeconds: 60,
          event: { ...event('vis_gw3', 'link.opened'), at },
        });
      assert.deepEqual(await open(1000), { outcome: 'opened', first: true, logged: true });
      assert.deepEqual(await open(1010), { outcome: 'opened', first: false, logged: false });
      assert.deepEqual(await open(1059), { outcome: 'opened', first: false, logged: false });
      assert.deepEqual(await open(1060), { outcome: 'opened', first: false, logged: true });
      // A loop of concurrent openings within one interval logs nothing more.
      const burst = await Promise.all(Array.from({ length: 8 }, () => open(1070)));
      assert.ok(burst.every((o) => o.outcome === 'opened' && !o.first && !o.logged));
      const link = (await store.getVisitLinks('vis_gw3'))[0];
      assert.equal(link?.openedAt, 1000, 'the first opening stays');
      assert.deepEqual(
        (await store.listEvents(org.id, 'vis_gw3')).filter((e) => e.type === 'link.opened').map((e) => e.at),
        [1000, 1060],
      );
      assert.deepEqual(
        await store.recordLinkOpening('vis_gw3', 'guest', 7, 1100, {
          logEverySeconds: 60,
          event: event('vis_gw3', 'link.opened'),
        }),
        { outcome: 'missing', first: false, logged: false },
      );
    });

    test('gateway links: withdrawn once; withdrawn and cancelled links record no opening', async () => {
      await store.createVisit(
        visit('vis_gw4', { source: 'custom', gateway: true, hosts: 1, guests: 2 }),
        [
          {
            visitId: 'vis_gw4',
            role: 'host',
            index: 0,
            cipher: 'c-gw4-h',
            longUrl: 'L',
            gatewayCode: `g4h${randomUUID().slice(0, 8)}`,
          },
          {
            visitId: 'vis_gw4',
            role: 'guest',
            index: 0,
            cipher: 'c-gw4-g0',
            longUrl: 'L',
            gatewayCode: `g40${randomUUID().slice(0, 8)}`,
          },
          {
            visitId: 'vis_gw4',
            role: 'guest',
            index: 1,
            cipher: 'c-gw4-g1',
            longUrl: 'L',
            gatewayCode: `g41${randomUUID().slice(0, 8)}`,
          },
        ],
        event('vis_gw4', 'visit.created'),
      );
      const opening = { logEverySeconds: 60, event: event('vis_gw4', 'link.opened') };
      const revoked = await store.revokeVisitLink(
        'vis_gw4',
        'guest',
        1,
        300,
        event('vis_gw4', 'link.revoked'),
      );
      assert.equal(revoked?.revokedAt, 300);
      assert.equal(revoked?.index, 1);
      assert.equal(
        await store.revokeVisitLink('vis_gw4', 'guest', 1, 301, event('vis_gw4', 'link.revoked')),
        undefined,
        'withdrawn once',
      );
      assert.equal(
        await store.revokeVisitLink('vis_gw4', 'guest', 9, 301, event('vis_gw4', 'link.revoked')),
        undefined,
      );
      assert.equal((await store.recordLinkOpening('vis_gw4', 'guest', 1, 310, opening)).outcome, 'revoked');
      assert.equal((await store.recordLinkOpening('vis_gw4', 'host', 0, 310, opening)).outcome, 'opened');
      // An opening and a cancel racing: each opening comes entirely before or after the cancel.
      const [cancelled, ...openings] = await Promise.all([
        store.transitionVisit(
          org.id,
          'vis_gw4',
          ['pending', 'live'],
          'cancelled',
          320,
          event('vis_gw4', 'visit.cancelled'),
        ),
        ...Array.from({ length: 4 }, () => store.recordLinkOpening('vis_gw4', 'guest', 0, 320, opening)),
      ]);
      assert.equal(cancelled?.status, 'cancelled');
      const g0 = (await store.getVisitLinks('vis_gw4')).find((l) => l.role === 'guest' && l.index === 0);
      const opened = openings.filter((o) => o.outcome === 'opened');
      assert.equal(
        g0?.openedAt !== undefined,
        opened.length > 0,
        'openedAt is set exactly when an opening won',
      );
      assert.equal((await store.recordLinkOpening('vis_gw4', 'guest', 0, 330, opening)).outcome, 'cancelled');
      const links = await store.getVisitLinks('vis_gw4');
      assert.deepEqual(
        links.map((l) => [l.role, l.index, l.revokedAt]),
        [
          ['host', 0, undefined],
          ['guest', 0, undefined],
          ['guest', 1, 300],
        ],
      );
      assert.equal(links[0]?.openedAt, 310);
      assert.equal(links[2]?.openedAt, undefined, 'a withdrawn link never opened');
      assert.deepEqual(
        (await store.listEvents(org.id, 'vis_gw4')).map((e) => e.type).filter((t) => t === 'link.revoked'),
        ['link.revoked'],
      );
    });

    /** Times of the arrival tests: after the real clock, so no purge of another test takes their visits. */
    const T = 1_900_000_000;

    test('visits: a guest arriving starts one wait; a host ends it; the last guest leaving ends it; a new arrival is a new wait', async () => {
      const observed = { observedBy: 'lobby', alertTo: 'email:doc@example.com', expiresAt: T + 5000 };
      await store.createVisit(visit('vis_w1', observed), [], event('vis_w1', 'visit.created'));
      assert.equal(
        await store.recordGuestArrival(org.id, 'vis_nope', T + 200, event('vis_nope', 'visit.waiting')),
        undefined,
      );
      // The wait's job (an alert) is stored with it, given the visit as the wait made it.
      const jobsAsked: (number | undefined)[] = [];
      const jobOf = (v: VisitRecord) => {
        jobsAsked.push(v.waits);
        return {
          type: 'test.alert',
          payload: { visitId: v.id },
          runAt: T + 10_000,
          maxAttempts: 1,
          dedupKey: `test-alert:${v.id}:${v.waits}`,
        };
      };
      const arrivals = await Promise.all(
        [T + 200, T + 201, T + 202].map((at) =>
          store.recordGuestArrival(org.id, 'vis_w1', at, event('vis_w1', 'visit.waiting'), jobOf),
        ),
      );
      assert.equal(arrivals.filter((a) => a?.waitStarted).length, 1, 'arrivals at once: one wait starts');
      assert.deepEqual(jobsAsked, [1], 'one job, for the wait that started');
      assert.equal(
        await store.enqueueJob({
          type: 'test.alert',
          payload: {},
          runAt: T,
          maxAttempts: 1,
          dedupKey: 'test-alert:vis_w1:1',
        }),
        undefined,
        'the job was stored with its key, in the same transaction',
      );
      const started = arrivals.find((a) => a?.waitStarted)!.visit;
      assert.equal(started.waits, 1);
      assert.equal(started.alertTo, 'email:doc@example.com');
      assert.equal(started.observedBy, 'lobby');
      assert.ok(started.waitingSince !== undefined && started.firstGuestAt === started.waitingSince);
      const waitingEvents = async () =>
        (await store.listEvents(org.id, 'vis_w1')).filter((e) => e.type === 'visit.waiting').length;
      assert.equal(await waitingEvents(), 1, 'one visit.waiting, written with the wait');

      // The last guest left: nobody waits; once.
      assert.equal((await store.stopWaiting(org.id, 'vis_w1'))?.waitingSince, undefined);
      assert.equal(await store.stopWaiting(org.id, 'vis_w1'), undefined, 'no wait to end');
      // Back again: a second wait; the first guest's time is kept.
      const again = await store.recordGuestArrival(
        org.id,
        'vis_w1',
        T + 300,
        event('vis_w1', 'visit.waiting'),
      );
      assert.equal(again?.waitStarted, true);
      assert.equal(again?.visit.waits, 2);
      assert.equal(again?.visit.waitingSince, T + 300);
      assert.equal(again?.visit.firstGuestAt, started.firstGuestAt);
      assert.equal(await waitingEvents(), 2);

      // A host joining ends the wait; a guest arriving at a live visit starts none.
      const live = await store.transitionVisit(
        org.id,
        'vis_w1',
        ['pending'],
        'live',
        T + 310,
        event('vis_w1', 'visit.live'),
      );
      assert.equal(live?.waitingSince, undefined);
      const late = await store.recordGuestArrival(
        org.id,
        'vis_w1',
        T + 320,
        event('vis_w1', 'visit.waiting'),
      );
      assert.equal(late?.waitStarted, false);
      assert.equal(late?.visit.status, 'live');
      assert.equal(await waitingEvents(), 2);

      // Outside the window nobody starts waiting (before it opens, or once it closed).
      await store.createVisit(
        visit('vis_w2', { ...observed, notBefore: T + 1000 }),
        [],
        event('vis_w2', 'c'),
      );
      const early = await store.recordGuestArrival(
        org.id,
        'vis_w2',
        T + 900,
        event('vis_w2', 'visit.waiting'),
      );
      assert.equal(early?.waitStarted, false);
      const closed = await store.recordGuestArrival(
        org.id,
        'vis_w2',
        T + 5000,
        event('vis_w2', 'visit.waiting'),
      );
      assert.equal(closed?.waitStarted, false);
    });

    test('visits: waiting, no_show, ended and expired filters, and each window closed once with its event', async () => {
      const o = { observedBy: 'lobby', subject: 'arrivals' };
      const mk = (id: string, extra: Partial<VisitRecord>) =>
        store.createVisit(visit(id, { ...o, ...extra }), [], event(id, 'visit.created'));
      await mk('vis_n1', { expiresAt: T + 600 }); // nobody came
      await mk('vis_n2', { expiresAt: T + 600, firstGuestAt: T + 500, waitingSince: T + 500, waits: 1 }); // no host
      await mk('vis_n3', { expiresAt: T + 600, status: 'live', startedAt: T + 500 }); // no guest
      await mk('vis_n4', { expiresAt: T + 600, status: 'live', startedAt: T + 500, firstGuestAt: T + 450 }); // both came
      await mk('vis_n5', { expiresAt: T + 600, observedBy: undefined as unknown as string }); // nobody watches
      await mk('vis_n6', { expiresAt: T + 3000, firstGuestAt: T + 500, waitingSince: T + 500, waits: 1 }); // still waiting
      await mk('vis_n7', { expiresAt: T + 600, status: 'ended', startedAt: T + 500, endedAt: T + 550 }); // a host ended it
      const ids = async (state: VisitRecord['status'] | string) =>
        (
          await store.listVisits(org.id, {
            limit: 50,
            offset: 0,
            now: T + 700,
            q: 'arrivals',
            state: state as never,
          })
        ).items
          .map((v) => v.id)
          .sort();
      assert.deepEqual(await ids('no_show'), ['vis_n1', 'vis_n2', 'vis_n3']);
      assert.deepEqual(await ids('ended'), ['vis_n4', 'vis_n7']);
      assert.deepEqual(await ids('expired'), ['vis_n5']);
      assert.deepEqual(await ids('waiting'), ['vis_n6']);
      assert.deepEqual(await ids('open'), []);
      assert.deepEqual(
        (
          await store.listVisits(org.id, {
            limit: 50,
            offset: 0,
            now: T + 500,
            q: 'arrivals',
            state: 'waiting',
          })
        ).items
          .map((v) => v.id)
          .sort(),
        ['vis_n2', 'vis_n6'],
        'before the window closed, vis_n2 waited too',
      );

      // Closing: two runs at once, each a batch of 2, then more runs: every closed window once.
      const seen: string[] = [];
      const eventOf = (v: VisitRecord): EventRecord | undefined =>
        v.id.startsWith('vis_n') ? { ...event(v.id, 'visit.no_show'), at: T + 700 } : undefined;
      const close = async () => {
        for (;;) {
          const batch = await store.closeVisits(T + 700, 2, eventOf);
          seen.push(...batch.map((v) => v.id));
          if (batch.length === 0) return;
        }
      };
      await Promise.all([close(), close()]);
      await close();
      const mine = seen.filter((id) => id.startsWith('vis_n')).sort();
      assert.deepEqual(
        mine,
        ['vis_n1', 'vis_n2', 'vis_n3', 'vis_n4', 'vis_n5', 'vis_n7'],
        'each once, not vis_n6',
      );
      for (const id of mine) {
        const v = await store.getVisit(org.id, id);
        assert.equal(v?.closedAt, T + 700);
        assert.equal(v?.waitingSince, undefined);
        assert.equal(
          (await store.listEvents(org.id, id)).filter((e) => e.type === 'visit.no_show').length,
          1,
          id,
        );
      }
      assert.equal((await store.getVisit(org.id, 'vis_n6'))?.closedAt, undefined);
      assert.deepEqual(await ids('no_show'), ['vis_n1', 'vis_n2', 'vis_n3'], 'closing changes no state');
    });

    test('sessions: create, get, delete', async () => {
      const s = { hash: randomUUID(), orgId: org.id, apiKeyId: 'k', csrf: 'c', createdAt: 1, expiresAt: 2 };
      await store.createSession(s);
      assert.deepEqual(await store.getSession(s.hash), s);
      await store.deleteSession(s.hash);
      assert.equal(await store.getSession(s.hash), undefined);
    });

    test('hooks: create, get, list, revoke once', async () => {
      const hook = {
        id: `hook_${randomUUID().slice(0, 8)}`,
        orgId: org.id,
        name: 'ehr',
        secret: 's3cret',
        createdAt: 1,
      };
      await store.createHook(hook);
      assert.deepEqual(await store.getHook(hook.id), hook);
      assert.ok((await store.listHooks(org.id)).some((h) => h.id === hook.id));
      assert.equal(await store.revokeHook(org.id, hook.id, 5), true);
      assert.equal(await store.revokeHook(org.id, hook.id, 6), false);
      assert.equal((await store.getHook(hook.id))?.revokedAt, 5);
    });

    test('hooks: a rotated secret keeps the previous one with its deadline; a revoked hook cannot rotate', async () => {
      const hook = {
        id: `hook_${randomUUID().slice(0, 8)}`,
        orgId: org.id,
        name: 'rot',
        secret: 'old',
        createdAt: 1,
      };
      await store.createHook(hook);
      assert.equal(await store.rotateHookSecret(org.id, hook.id, 'new', 500), true);
      assert.deepEqual(await store.getHook(hook.id), {
        ...hook,
        secret: 'new',
        previousSecret: 'old',
        previousSecretUntil: 500,
      });
      assert.equal(await store.rotateHookSecret(org.id, hook.id, 'newer', 600), true);
      assert.deepEqual(
        { ...(await store.getHook(hook.id)) },
        { ...hook, secret: 'newer', previousSecret: 'new', previousSecretUntil: 600 },
      );
      assert.equal(await store.rotateHookSecret(randomUUID(), hook.id, 'x', 1), false, 'another org');
      assert.equal(await store.revokeHook(org.id, hook.id, 7), true);
      assert.equal(await store.rotateHookSecret(org.id, hook.id, 'x', 1), false);
      assert.equal((await store.getHook(hook.id))?.secret, 'newer');
    });

    /** A request's claim on an Idempotency-Key at `at` (a 60 s lease, keys expire after 24 h). */
    const claim = (at: number, visitId = `vis_${randomUUID().slice(0, 8)}`, extra: object = {}) => ({
      visitId,
      owner: randomUUID(),
      leaseUntil: at + 60,
      expiredBefore: at - 86_400,
      ...extra,
    });

    test('idempotency keys: one winner, pending while served, done with the visit, released on failure', async () => {
      const claims = Array.from({ length: 5 }, (_, i) => claim(10, `vis_race${i}`));
      const results = await Promise.all(
        claims.map((c) => store.reserveIdempotencyKey(org.id, 'idem-1', 'h1', 10, c)),
      );
      const winners = results.filter((r) => r.status === 'new');
      assert.equal(winners.length, 1);
      const winner = winners[0]!;
      assert.ok(winner.status === 'new' && /^vis_race\d$/.test(winner.visitId) && !winner.takenOver);
      assert.ok(
        results
          .filter((r) => r.status !== 'new')
          .every((r) => r.status === 'pending' && r.requestHash === 'h1' && r.leaseUntil === 70),
      );
      const visitId = winner.status === 'new' ? winner.visitId : '';
      await store.completeIdempotencyKey(org.id, 'idem-1', visitId, 12);
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-1', 'h2', 11, claim(11)), {
        status: 'done',
        requestHash: 'h1',
        visitId,
      });
      const mine = claim(10, 'vis_idem2');
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-2', 'h1', 10, mine), {
        status: 'new',
        visitId: 'vis_idem2',
        takenOver: false,
      });
      // Only the lease's owner releases it.
      await store.releaseIdempotencyKey(org.id, 'idem-2', 'someone-else');
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-2', 'h1', 12, claim(12))).status,
        'pending',
      );
      await store.releaseIdempotencyKey(org.id, 'idem-2', mine.owner);
      assert.deepEqual(
        await store.reserveIdempotencyKey(org.id, 'idem-2', 'h1', 12, claim(12, 'vis_idem2b')),
        {
          status: 'new',
          visitId: 'vis_idem2b',
          takenOver: false,
        },
      );
    });

    test('idempotency keys: a lease that ran out is taken over with the first visit id, once; then done', async () => {
      const first = claim(100, 'vis_lease1');
      assert.equal((await store.reserveIdempotencyKey(org.id, 'idem-lease', 'h', 100, first)).status, 'new');
      // Within the lease: pending (the first request may still be running).
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-lease', 'h', 159, claim(159)), {
        status: 'pending',
        requestHash: 'h',
        leaseUntil: 160,
      });
      // Another body never takes it over, even after the lease.
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-lease', 'other', 500, claim(500))).status,
        'pending',
      );
      // After the lease: racing retries, one takes over, and it makes the FIRST request's visit.
      const retries = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          store.reserveIdempotencyKey(org.id, 'idem-lease', 'h', 200, claim(200, `vis_retry${i}`)),
        ),
      );
      const taken = retries.filter((r) => r.status === 'new');
      assert.deepEqual(taken, [{ status: 'new', visitId: 'vis_lease1', takenOver: true }]);
      assert.ok(retries.every((r) => r.status === 'new' || (r.status === 'pending' && r.leaseUntil === 260)));
      // The crashed holder can no longer release the key it lost.
      await store.releaseIdempotencyKey(org.id, 'idem-lease', first.owner);
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-lease', 'h', 201, claim(201))).status,
        'pending',
      );
      await store.completeIdempotencyKey(org.id, 'idem-lease', 'vis_lease1', 210);
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-lease', 'h', 999, claim(999)), {
        status: 'done',
        requestHash: 'h',
        visitId: 'vis_lease1',
      });
    });

    test('idempotency keys: expired after their lifetime (new again), existingOnly never reserves, pruned by age', async () => {
      const t0 = 1_000_000;
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-old', 'h', t0, claim(t0, 'vis_old'))).status,
        'new',
      );
      await store.completeIdempotencyKey(org.id, 'idem-old', 'vis_old', t0);
      const day = t0 + 86_400;
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-old', 'h', day, claim(day))).status,
        'done',
      );
      // One second past 24 h: a new key, with the new visit and another body allowed.
      const later = day + 1;
      assert.deepEqual(
        await store.reserveIdempotencyKey(org.id, 'idem-old', 'h2', later, claim(later, 'vis_new')),
        { status: 'new', visitId: 'vis_new', takenOver: false },
      );
      // existingOnly: absent for an unknown or expired key, and nothing is reserved.
      const only = (at: number) => claim(at, 'vis_only', { existingOnly: true });
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-none', 'h', later, only(later)), {
        status: 'absent',
      });
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-none', 'h', later, claim(later))).status,
        'new',
      );
      await store.completeIdempotencyKey(org.id, 'idem-old', 'vis_new', later);
      const farLater = later + 86_401;
      assert.deepEqual(
        await store.reserveIdempotencyKey(org.id, 'idem-old', 'h2', farLater, only(farLater)),
        {
          status: 'absent',
        },
      );
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-old', 'h2', later, only(later)), {
        status: 'done',
        requestHash: 'h2',
        visitId: 'vis_new',
      });
      // Pruning forgets keys first used before the given time, and only those.
      assert.ok((await store.pruneIdempotencyKeys(later)) >= 0);
      assert.equal(
        (await store.reserveIdempotencyKey(org.id, 'idem-old', 'h2', later, only(later))).status,
        'done',
      );
      assert.ok((await store.pruneIdempotencyKeys(later + 1)) >= 2);
      assert.deepEqual(await store.reserveIdempotencyKey(org.id, 'idem-old', 'h2', later, only(later)), {
        status: 'absent',
      });
    });

    test('deliveries: recorded once, pruned by age', async () => {
      assert.equal(await store.markDelivery('d1', 100), true);
      assert.equal(await store.markDelivery('d1', 101), false);
      await store.pruneDeliveries(200);
      assert.equal(await store.markDelivery('d1', 300), true);
    });

    test('pruning: deliveries by age, in batches, counting what went; newer ones stay', async () => {
      await store.pruneDeliveries(400); // the test above's
      for (let i = 0; i < 5; i++) await store.markDelivery(`old-${i}`, 400 + i);
      await store.markDelivery('young', 900);
      assert.equal(await store.pruneDeliveries(500, 2), 2, 'at most the batch');
      assert.equal(await store.pruneDeliveries(500, 2), 2);
      assert.equal(await store.pruneDeliveries(500, 2), 1);
      assert.equal(await store.pruneDeliveries(500, 2), 0, 'nothing left to prune');
      assert.equal(await store.markDelivery('old-0', 901), true, 'a pruned key is forgotten');
      assert.equal(await store.markDelivery('young', 901), false, 'a newer one is kept');
      assert.equal(await store.pruneDeliveries(10_000), 2, 'without a limit, all of them');
    });

    test('pruning: short links once expired before the bound, sessions once expired', async () => {
      const link = (code: string, expiresAt: number): ShortLinkRecord => ({
        code,
        orgId: org.id,
        cipher: `cipher-${code}`,
        role: 'guest',
        vertical: 'gen',
        hostLogin: false,
        subject: 'Pruned',
        expiresAt,
        createdAt: 1,
      });
      await store.insertShortLinks([link('PruneA1', 100), link('PruneA2', 200), link('PruneA3', 300)]);
      assert.equal(await store.pruneShortLinks(250, 1), 1);
      assert.equal(await store.pruneShortLinks(250, 10), 1, 'only those expired before the bound');
      assert.equal(await store.getShortLink('PruneA1'), undefined);
      assert.equal(await store.getShortLink('PruneA2'), undefined);
      assert.ok(await store.getShortLink('PruneA3'), 'expired after the bound: still answers "expired"');
      assert.ok(await store.getShortLink('Abc1234'), 'a valid link is never pruned');
      assert.equal(await store.pruneShortLinks(250), 0);

      const session = (hash: string, expiresAt: number) => ({
        hash,
        orgId: org.id,
        apiKeyId: 'k',
        csrf: 'c',
        createdAt: 1,
        expiresAt,
      });
      await store.createSession(session('prune-s1', 50));
      await store.createSession(session('prune-s2', 60));
      await store.createSession(session('prune-s3', 5_000_000_000));
      assert.equal(await store.pruneSessions(60, 1), 1);
      assert.equal(await store.pruneSessions(60), 1, 'expired at the bound counts as expired');
      assert.equal(await store.getSession('prune-s2'), undefined);
      assert.ok(await store.getSession('prune-s3'), 'a live session stays');
      await store.deleteSession('prune-s3');
    });

    test('jobs: claimed once, leased, retried, given up', async () => {
      const id = (await store.enqueueJob({ type: 't', payload: { a: 1 }, runAt: 100, maxAttempts: 3 }))!;
      assert.deepEqual(await store.claimJobs(99, 10, 30), [], 'not due yet');
      const [claimed, ...rest] = await Promise.all([
        store.claimJobs(100, 10, 30),
        store.claimJobs(100, 10, 30),
      ]);
      assert.equal([claimed, ...rest].flat().filter((j) => j.id === id).length, 1, 'one worker gets it');
      assert.deepEqual(
        (await store.claimJobs(120, 10, 30)).map((j) => j.id),
        [],
        'leased',
      );
      assert.deepEqual(
        (await store.claimJobs(131, 10, 30)).map((j) => j.id),
        [id],
        'a lease that ran out comes back',
      );
      await store.failJob(id, 'boom', 200, 131);
      assert.equal((await store.getJob(id))?.status, 'pending');
      assert.equal((await store.getJob(id))?.lastError, 'boom');
      const [again] = await store.claimJobs(200, 10, 30);
      assert.equal(again?.attempts, 1);
      assert.deepEqual(again?.payload, { a: 1 });
      await store.failJob(id, 'boom again', undefined, 201);
      assert.equal((await store.getJob(id))?.status, 'failed');
      const other = (await store.enqueueJob({ type: 't', payload: {}, runAt: 0, maxAttempts: 1 }))!;
      await store.claimJobs(300, 10, 30);
      await store.completeJob(other, 301);
      assert.equal((await store.getJob(other))?.status, 'done');
      assert.deepEqual(await store.claimJobs(10_000, 10, 30), [], 'done and failed jobs never come back');
    });

    test('counters: concurrent increments all count; peeking adds nothing', async () => {
      const key = `rate-${randomUUID()}`;
      const values = await Promise.all(
        Array.from({ length: 20 }, () => store.incrementCounter(key, 1, 9_999_999_999)),
      );
      assert.deepEqual(
        [...values].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal(await store.incrementCounter(key, 0, 9_999_999_999), 20);
    });

    test('visit links are found by their exact cipher', async () => {
      const found = await store.findVisitLinkByCipher('c-g');
      assert.equal(found?.visit.id, 'vis_a');
      assert.equal(found?.link.jti, 'j-a-g');
      assert.equal(await store.findVisitLinkByCipher('c-g-but-not'), undefined);
    });

    test('jobs with a dedup key: stored once, atomically with the key', async () => {
      const key = `dedup-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          store.enqueueJob({
            type: 'once',
            payload: {},
            runAt: 9_000_000_000,
            maxAttempts: 1,
            dedupKey: key,
          }),
        ),
      );
      assert.equal(results.filter((id) => id !== undefined).length, 1);
      assert.equal(await store.markDelivery(key, 1), false, 'the key is recorded with the job');
    });

    test('settings: set, overwrite, get', async () => {
      assert.equal(await store.getSetting('nope'), undefined);
      await store.setSetting('webex.secret', 'a');
      await store.setSetting('webex.secret', 'b');
      assert.equal(await store.getSetting('webex.secret'), 'b');
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

    test('short links: two inserts racing for one code: one gets it, the other is told, nothing half-done', async () => {
      const link = (code: string): ShortLinkRecord => ({
        code,
        orgId: org.id,
        cipher: `cipher-${code}`,
        role: 'guest',
        vertical: 'hc',
        hostLogin: false,
        subject: 'Race',
        expiresAt: 2_000_000_000,
        createdAt: 1,
      });
      for (let round = 0; round < 5; round++) {
        const shared = `Race${round}00`;
        const results = await Promise.all(
          ['A', 'B', 'C'].map((who) => store.insertShortLinks([link(`Own${who}${round}`), link(shared)])),
        );
        assert.equal(results.filter((r) => r.length === 0).length, 1, 'one insert wins');
        for (const [i, taken] of results.entries()) {
          const own = await store.getShortLink(`Own${'ABC'[i]}${round}`);
          if (taken.length === 0) assert.ok(own, 'the winner stored all of its links');
          else {
            assert.deepEqual(taken, [shared]);
            assert.equal(own, undefined, 'a loser stored none of its links');
          }
        }
      }
    });

    test('jobs: workers claiming at once never share a job, and together take every due job', async () => {
      const ids = new Set<number>();
      for (let i = 0; i < 25; i++)
        ids.add((await store.enqueueJob({ type: 'race', payload: { i }, runAt: 50_000, maxAttempts: 1 }))!);
      const rounds = await Promise.all(Array.from({ length: 6 }, () => store.claimJobs(50_000, 10, 30)));
      const claimed = rounds.flat().map((j) => j.id);
      assert.equal(new Set(claimed).size, claimed.length, 'no job went to two workers');
      const rest = (await store.claimJobs(50_000, 100, 30)).map((j) => j.id);
      assert.deepEqual(
        [...claimed, ...rest].sort((a, b) => a - b),
        [...ids].sort((a, b) => a - b),
      );
      for (const id of ids) await store.completeJob(id, 50_001);
    });

    test('broker keys: rotations racing leave exactly one active key', async () => {
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.addBrokerKey({ kid: `race-${i}`, material: `m${i}`, createdAt: 10 + i, active: true }),
        ),
      );
      const active = (await store.listBrokerKeys()).filter((k) => k.active);
      assert.equal(active.length, 1);
      assert.match(active[0]!.kid, /^race-/);
    });

    // Last: purging is across the whole store, so it first clears what the tests above left behind.
    test('purge: finished visits before the bound go with their links, events, short links, Idempotency-Keys and unused spaces; in batches; a dry run counts the same', async () => {
      const bound = 5000;
      await store.purgeVisits(bound);
      const now = Math.floor(Date.now() / 1000);
      const links = (id: string, n: number, short = false) =>
        Array.from({ length: n }, (_, i) => ({
          visitId: id,
          role: 'guest' as const,
          index: i,
          cipher: `c-${id}-${i}`,
          longUrl: `L-${id}-${i}`,
          jti: `j-${id}-${i}`,
          ...(short ? { short: `Pg${id.slice(-2)}${i}`, shortUrl: `S-${id}-${i}` } : {}),
        }));
      const add = async (v: VisitRecord, n: number, short = false) => {
        await store.createVisit(v, links(v.id, n, short), event(v.id, 'visit.created'));
        await store.getOrCreateSpace(org.id, v.subject, () => ({ id: randomUUID(), createdAt: 1 }));
      };
      // Finished before the bound: cancelled (its window still ahead), ended, expired twice.
      await add(
        visit('vis_pc', {
          subject: 'Purge Jane Doe',
          status: 'cancelled',
          cancelledAt: 3000,
          expiresAt: 9e9,
        }),
        2,
        true,
      );
      await store.insertShortLinks(
        [0, 1].map((i) => ({
          code: `Pgpc${i}`,
          orgId: org.id,
          cipher: `c-vis_pc-${i}`,
          role: 'guest' as const,
          vertical: 'hc' as const,
          hostLogin: false,
          subject: 'Purge Jane Doe',
          expiresAt: 9e9,
          createdAt: 1,
        })),
      );
      await store.appendEvent(event('vis_pc', 'visit.cancelled'));
      await store.reserveIdempotencyKey(org.id, 'idem-purge', 'h', now, claim(now, 'vis_pc'));
      await store.completeIdempotencyKey(org.id, 'idem-purge', 'vis_pc', now);
      await add(
        visit('vis_pe', { subject: 'Purge shared', status: 'ended', endedAt: 3500, expiresAt: 4000 }),
        1,
      );
      await add(visit('vis_px', { subject: 'Purge shared', expiresAt: 3000 }), 1);
      await add(visit('vis_py', { subject: 'Purge kept subject', status: 'live', expiresAt: 4500 }), 1);
      // Kept: finished after the bound (and its subject's space), open, live, scheduled.
      await add(visit('vis_pk', { subject: 'Purge kept subject', status: 'ended', endedAt: 6000 }), 1);
      await add(visit('vis_po', { subject: 'Purge open', expiresAt: now + 3600 }), 1);
      await add(
        visit('vis_pl', { subject: 'Purge live', status: 'live', startedAt: 100, expiresAt: now + 3600 }),
        1,
      );
      await add(visit('vis_ps', { subject: 'Purge later', notBefore: now + 3600, expiresAt: now + 7200 }), 1);

      const expected = { visits: 4, links: 5, events: 5, shortLinks: 2, idempotencyKeys: 1, spaces: 2 };
      assert.deepEqual(await store.purgeVisits(bound, { dryRun: true }), expected);
      assert.equal((await store.getVisit(org.id, 'vis_pc'))?.id, 'vis_pc', 'a dry run deletes nothing');
      const first = await store.purgeVisits(bound, { limit: 3 });
      assert.equal(first.visits, 3, 'at most the batch');
      const second = await store.purgeVisits(bound, { limit: 3 });
      assert.equal(second.visits, 1);
      assert.deepEqual(await store.purgeVisits(bound, { limit: 3 }), {
        visits: 0,
        links: 0,
        events: 0,
        shortLinks: 0,
        idempotencyKeys: 0,
        spaces: 0,
      });
      const total = Object.fromEntries(
        Object.keys(expected).map((k) => [
          k,
          first[k as keyof typeof first] + second[k as keyof typeof second],
        ]),
      );
      assert.deepEqual(total, expected, 'the batches removed what the dry run counted');

      for (const id of ['vis_pc', 'vis_pe', 'vis_px', 'vis_py']) {
        assert.equal(await store.getVisit(org.id, id), undefined, `${id} is purged`);
        assert.deepEqual(await store.getVisitLinks(id), []);
        assert.deepEqual(await store.listEvents(org.id, id), []);
      }
      assert.equal(await store.findVisitLinkByJti('j-vis_pc-0'), undefined);
      assert.equal(await store.getShortLink('Pgpc0'), undefined);
      assert.equal(await store.getShortLink('Pgpc1'), undefined);
      assert.deepEqual(
        await store.reserveIdempotencyKey(
          org.id,
          'idem-purge',
          'h',
          now,
          claim(now, 'x', { existingOnly: true }),
        ),
        { status: 'absent' },
      );
      let made = 0;
      const make = () => {
        made += 1;
        return { id: randomUUID(), createdAt: 2 };
      };
      await store.getOrCreateSpace(org.id, 'Purge kept subject', make);
      assert.equal(made, 0, 'a space another visit still uses stays');
      await store.getOrCreateSpace(org.id, 'Purge Jane Doe', make);
      await store.getOrCreateSpace(org.id, 'Purge shared', make);
      assert.equal(made, 2, 'the spaces of purged subjects went');
      for (const id of ['vis_pk', 'vis_po', 'vis_pl', 'vis_ps'])
        assert.equal((await store.getVisit(org.id, id))?.id, id, `${id} stays`);

      // A bound in the future counts as now: the open, live and scheduled visits still stay.
      const far = await store.purgeVisits(now + 1_000_000);
      assert.equal(far.visits, 1, 'only the one that ended');
      for (const id of ['vis_po', 'vis_pl', 'vis_ps'])
        assert.equal((await store.getVisit(org.id, id))?.id, id, `${id} is never purged`);
      assert.equal(await store.getVisit(org.id, 'vis_pk'), undefined);
    });

    test('recipients and notice jobs are stored with their visit, the cancel jobs only with the cancel; deliveries with their event; purge takes them', async () => {
      const now = Math.floor(Date.now() / 1000);
      const id = 'vis_rcp';
      const recipients = [
        {
          visitId: id,
          role: 'guest' as const,
          index: 0,
          name: 'Ana',
          email: 'ana@x.example',
          language: 'es',
          timeZone: 'Europe/Madrid',
        },
        { visitId: id, role: 'host' as const, index: 0, phone: '+14155550123', channel: 'sms' as const },
      ];
      // Far in the future: no other test claims them. A job whose dedup key is taken was stored.
      const job = (key: string) => ({
        type: 'visit.notice',
        payload: { visitId: id, key },
        runAt: now + 10_000_000,
        maxAttempts: 3,
        dedupKey: `contract-notice:${org.id}:${id}:${key}`,
      });
      const stored = async (key: string) => (await store.enqueueJob(job(key))) === undefined;
      await store.createVisit(
        { ...record.visit(org.id, id), createdAt: now - 100, expiresAt: now + 900 },
        [],
        record.event(org.id, id),
        { recipients, jobs: [job('created')] },
      );
      assert.deepEqual(await store.listRecipients(id), recipients, 'by role, then index');
      assert.deepEqual(await store.listRecipients('vis_none'), []);
      assert.ok(await stored('created'), 'the notice job was stored with the visit');
      // A cancel that does not happen (wrong state) stores no job; one that happens does.
      assert.equal(
        await store.transitionVisit(org.id, id, ['live'], 'cancelled', now, record.event(org.id, id), [
          job('no'),
        ]),
        undefined,
      );
      assert.ok(
        await store.transitionVisit(org.id, id, ['pending'], 'cancelled', now, record.event(org.id, id), [
          job('cancelled'),
        ]),
      );
      assert.ok(await stored('cancelled'), 'the cancel notice job was stored with the cancel');
      assert.ok(!(await stored('no')), 'a refused cancel stored nothing');

      const attempt = {
        orgId: org.id,
        visitId: id,
        role: 'guest' as const,
        index: 0,
        channel: 'email' as const,
        address: 'ana@x.example',
        trigger: 'visit.created',
        actor: 'key:k1',
        attempt: 1,
        status: 'failed' as const,
        error: 'SMTP ECONNECTION: refused',
        at: now,
      };
      const { error: _e, ...rest } = attempt;
      const sent = { ...rest, attempt: 2, status: 'sent' as const, providerId: '<m1@x>', at: now + 5 };
      const first = await store.recordDelivery(attempt);
      const second = await store.recordDelivery(sent, {
        ...record.event(org.id, id),
        type: 'link.delivered',
        data: { role: 'guest', index: 0 },
      });
      // A reminder that must not go out is recorded `skipped`, with why.
      const skipped = {
        ...attempt,
        trigger: 'visit.reminder',
        actor: 'system',
        status: 'skipped' as const,
        error: 'the visit was cancelled',
        at: now + 6,
      };
      const third = await store.recordDelivery(skipped);
      assert.ok(second > first);
      assert.deepEqual(await store.listDeliveries(id), [
        { ...attempt, id: first },
        { ...sent, id: second },
        { ...skipped, id: third },
      ]);
      assert.deepEqual(
        (await store.listEvents(org.id, id)).filter((e) => e.type === 'link.delivered').map((e) => e.data),
        [{ role: 'guest', index: 0 }],
        'the event is written with its record',
      );
      // Purged with the visit: its personal data goes.
      await store.createVisit(
        { ...record.visit(org.id, 'vis_rcp_old'), createdAt: now - 1000, expiresAt: now - 500 },
        [],
        record.event(org.id, 'vis_rcp_old'),
        { recipients: [{ ...recipients[0]!, visitId: 'vis_rcp_old' }] },
      );
      await store.recordDelivery({ ...attempt, visitId: 'vis_rcp_old' });
      await store.purgeVisits(now);
      assert.deepEqual(await store.listRecipients('vis_rcp_old'), []);
      assert.deepEqual(await store.listDeliveries('vis_rcp_old'), []);
    });

    test('meeting links: a visit keeps its first meeting; a meeting finds its visits; purge takes them', async () => {
      // Real time: purge never takes a visit whose window is still open now.
      const now = Math.floor(Date.now() / 1000);
      const base = { ...record.visit(org.id, 'vis_m1'), source: 'commercial' as const, createdAt: now - 60 };
      await store.createVisit({ ...base, expiresAt: now + 900 }, [], record.event(org.id, 'vis_m1'));
      await store.createVisit(
        { ...base, id: 'vis_m2', expiresAt: now + 900 },
        [],
        record.event(org.id, 'vis_m2'),
      );
      // Not telemetry's: a local visit, a cancelled one, one not open yet, one over.
      await store.createVisit(
        { ...base, id: 'vis_m3', source: 'local', expiresAt: now + 900 },
        [],
        record.event(org.id, 'vis_m3'),
      );
      await store.createVisit(
        { ...base, id: 'vis_m4', status: 'cancelled', expiresAt: now + 900 },
        [],
        record.event(org.id, 'vis_m4'),
      );
      await store.createVisit(
        { ...base, id: 'vis_m5', notBefore: now + 60, expiresAt: now + 900 },
        [],
        record.event(org.id, 'vis_m5'),
      );
      await store.createVisit(
        { ...base, id: 'vis_m6', expiresAt: now - 1 },
        [],
        record.event(org.id, 'vis_m6'),
      );
      const sources = ['commercial' as const, 'custom' as const];
      assert.deepEqual((await store.unmappedMeetingVisits(sources, now, 10)).map((v) => v.id).sort(), [
        'vis_m1',
        'vis_m2',
      ]);
      assert.deepEqual(await store.unmappedMeetingVisits(['usgov'], now, 10), []);
      assert.equal((await store.unmappedMeetingVisits(sources, now, 1)).length, 1, 'bounded');

      const link = {
        visitId: 'vis_m1',
        orgId: org.id,
        roomId: 'room-1',
        meetingId: 'meet-1',
        meetingNumber: '123',
        createdAt: now,
      };
      await store.saveMeetingLink(link);
      await store.saveMeetingLink({ ...link, roomId: 'room-other', meetingId: 'meet-other' });
      assert.deepEqual(await store.getMeetingLink('vis_m1'), link, 'the first mapping stays');
      assert.equal(
        (await store.getVisit(org.id, 'vis_m1'))?.observedBy,
        'telemetry',
        'telemetry sees it now',
      );
      const { meetingNumber: _n, ...second } = { ...link, visitId: 'vis_m2', createdAt: now + 1 };
      await store.saveMeetingLink(second);
      assert.deepEqual(await store.findMeetingLinks('meet-1'), [second, link], 'newest first');
      assert.deepEqual(await store.findMeetingLinks('meet-none'), []);
      assert.deepEqual(
        (await store.unmappedMeetingVisits(sources, now, 10)).map((v) => v.id),
        [],
      );
      const mapped = await store.mappedMeetingVisits(sources, now, 10);
      assert.deepEqual(
        mapped.map((m) => [m.visit.id, m.meeting]),
        [
          ['vis_m1', link],
          ['vis_m2', second],
        ],
      );

      await store.saveMeetingLink({ ...link, visitId: 'vis_m6' });
      await store.recordMeetingParticipant(
        { visitId: 'vis_m6', participantId: 'p', role: 'guest', state: 'joined', at: now - 100 },
        record.event(org.id, 'vis_m6'),
      );
      await store.purgeVisits(now);
      assert.equal(await store.getVisit(org.id, 'vis_m6'), undefined);
      assert.equal(await store.getMeetingLink('vis_m6'), undefined);
      assert.deepEqual(await store.listMeetingParticipants('vis_m6'), []);
      assert.deepEqual(await store.getMeetingLink('vis_m1'), link, 'an open visit keeps its meeting');
    });

    test('meeting participants: joined and left once each, with their event; a repeat records nothing', async () => {
      const id = 'vis_mp';
      await store.createVisit(record.visit(org.id, id), [], record.event(org.id, id));
      const change = (
        state: 'joined' | 'left',
        at: number,
        participantId = 'p1',
        role: 'host' | 'guest' = 'guest',
      ) => ({
        visitId: id,
        participantId,
        role,
        state,
        at,
      });
      const ev = (type: string, at: number) => ({ ...record.event(org.id, id), type, at });
      const events = async () => (await store.listEvents(org.id, id)).map((e) => e.type).slice(1);

      assert.equal(
        await store.recordMeetingParticipant(change('left', 5), ev('guest.left', 5)),
        false,
        'never joined',
      );
      assert.equal(await store.recordMeetingParticipant(change('joined', 10), ev('guest.joined', 10)), true);
      assert.equal(await store.recordMeetingParticipant(change('joined', 11), ev('guest.joined', 11)), false);
      const both = await Promise.all([
        store.recordMeetingParticipant(change('joined', 12, 'p2', 'host'), ev('host.joined', 12)),
        store.recordMeetingParticipant(change('joined', 12, 'p2', 'host'), ev('host.joined', 12)),
      ]);
      assert.deepEqual(both.sort(), [false, true], 'one of two concurrent repeats');
      assert.equal(await store.recordMeetingParticipant(change('left', 20), ev('guest.left', 20)), true);
      assert.equal(await store.recordMeetingParticipant(change('left', 21), ev('guest.left', 21)), false);
      assert.equal(
        await store.recordMeetingParticipant(change('joined', 30), ev('guest.joined', 30)),
        true,
        'rejoined',
      );
      assert.deepEqual(await events(), ['guest.joined', 'host.joined', 'guest.left', 'guest.joined']);
      assert.deepEqual(await store.listMeetingParticipants(id), [
        { visitId: id, participantId: 'p2', role: 'host', joinedAt: 12 },
        { visitId: id, participantId: 'p1', role: 'guest', joinedAt: 30 },
      ]);
    });

    test('SMS opt-outs: recorded once a number (a repeat keeps the latest keyword), removed by START', async () => {
      const phone = `+1415${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
      assert.equal(await store.getSmsOptOut(phone), undefined);
      await store.recordSmsOptOut({ phone, orgId: org.id, keyword: 'STOP', at: 100 });
      assert.deepEqual(await store.getSmsOptOut(phone), { phone, orgId: org.id, keyword: 'STOP', at: 100 });
      // A second keyword without an organisation keeps the one known.
      await store.recordSmsOptOut({ phone, keyword: 'QUIT', at: 110 });
      assert.deepEqual(await store.getSmsOptOut(phone), { phone, orgId: org.id, keyword: 'QUIT', at: 110 });
      assert.equal(await store.removeSmsOptOut(phone), true);
      assert.equal(await store.removeSmsOptOut(phone), false);
      assert.equal(await store.getSmsOptOut(phone), undefined);
      await store.recordSmsOptOut({ phone, keyword: 'END', at: 120 });
      assert.deepEqual(await store.getSmsOptOut(phone), { phone, keyword: 'END', at: 120 });
    });

    test('SMS messages: a status moves forward only; an unknown id updates nothing', async () => {
      const providerId = `SM${randomUUID().replace(/-/g, '')}`;
      const base = { providerId, provider: 'twilio', phone: '+14155550100', createdAt: 50, updatedAt: 50 };
      await store.saveSmsMessage({ ...base, status: 'queued' });
      await store.saveSmsMessage({ ...base, status: 'sent', createdAt: 51, updatedAt: 51 }); // kept as first
      assert.deepEqual(await store.getSmsMessage(providerId), { ...base, status: 'queued' });
      const update = (
        status: 'sent' | 'delivered' | 'undelivered',
        rank: number,
        at: number,
        errorCode?: string,
      ) => store.updateSmsStatus({ providerId, status, rank, at, ...(errorCode ? { errorCode } : {}) });
      assert.deepEqual(await update('sent', 2, 60), { ...base, status: 'sent', updatedAt: 60 });
      assert.deepEqual(await update('undelivered', 3, 70, '30003'), {
        ...base,
        status: 'undelivered',
        errorCode: '30003',
        updatedAt: 70,
      });
      // A late `sent` callback does not move it back.
      assert.deepEqual(await update('sent', 2, 80), {
        ...base,
        status: 'undelivered',
        errorCode: '30003',
        updatedAt: 70,
      });
      assert.equal(
        await store.updateSmsStatus({ providerId: 'SMnothing', status: 'sent', rank: 2, at: 1 }),
        undefined,
      );
      assert.equal(await store.getSmsMessage('SMnothing'), undefined);
    });
  });
}

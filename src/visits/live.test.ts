/**
 * Presence across instances, as LiveVisits counts it over a bus: one participant per link however
 * many streams on however many instances; a crashed instance (silent, no goodbye) is forgotten
 * after three refreshes; a bus that lost messages heals when it listens again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, test } from 'node:test';
import { eventually } from '../../test/support/eventually.js';
import type { Keyring } from '../broker/keyring.js';
import type { Store, VisitRecord } from '../store/types.js';
import { type LiveBus, type LiveMessage, type LiveSink, type LiveStatus, LiveVisits } from './live.js';

/** Buses of several "instances" on one hub; messages arrive later, as from PostgreSQL. */
class Hub {
  readonly buses = new Set<TestBus>();
  bus(): TestBus {
    const bus = new TestBus(this);
    this.buses.add(bus);
    return bus;
  }
}

class TestBus implements LiveBus {
  /** Sends nothing (a crashed instance). */
  mute = false;
  /** Hears nothing (its listening connection is down). */
  deaf = false;
  readonly #listeners = new Set<(m: LiveMessage) => void>();
  readonly #listening = new Set<() => void>();
  constructor(readonly hub: Hub) {}
  publish(message: LiveMessage): void {
    if (this.mute) return;
    const copy = JSON.stringify(message);
    setImmediate(() => {
      for (const bus of this.hub.buses) bus.deliver(JSON.parse(copy));
    });
  }
  deliver(message: LiveMessage): void {
    if (this.deaf) return;
    for (const listener of this.#listeners) listener(message);
  }
  subscribe(listener: (m: LiveMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  onListening(listener: () => void): () => void {
    this.#listening.add(listener);
    return () => this.#listening.delete(listener);
  }
  /** Listening again after a loss. */
  relisten(): void {
    this.deaf = false;
    for (const listener of this.#listening) listener();
  }
  async close(): Promise<void> {
    this.hub.buses.delete(this);
  }
}

const NOW = Math.floor(Date.now() / 1000);
const visit: VisitRecord = {
  id: 'vis_presence',
  orgId: 'org_1',
  subject: 'Presence',
  status: 'pending',
  expiresAt: NOW + 3600,
  vertical: 'hc',
  hostLogin: false,
  shortUrls: false,
  devices: [],
  source: 'local',
  createdBy: 'test',
  createdAt: NOW,
  hosts: 1,
  guests: 2,
};

/** Event types appended, in order. */
const appended: string[] = [];
const store = {
  async getVisit(orgId: string, id: string) {
    return orgId === visit.orgId && id === visit.id ? visit : undefined;
  },
  async listEvents() {
    return [];
  },
  async appendEvent(event: { type: string }) {
    appended.push(event.type);
  },
} as unknown as Store;

const secret = randomBytes(32);
const keyring = {
  active: () => ({ signingSecret: secret }),
  candidates: () => [{ signingSecret: secret }],
  load: async () => {},
} as unknown as Keyring;

const instances: LiveVisits[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => i.close()));
});

function instance(bus: TestBus, presenceRefreshMs = 60_000, hostGraceSeconds?: number): LiveVisits {
  const live = new LiveVisits({
    store,
    keyring,
    bus,
    presenceRefreshMs,
    statusIntervalMs: 10,
    ...(hostGraceSeconds ? { limits: { hostGraceSeconds } } : {}),
  });
  instances.push(live);
  return live;
}

/** A sink that keeps what it was sent. */
function sink(): LiveSink & { statuses: LiveStatus[]; ended?: string } {
  const out: LiveSink & { statuses: LiveStatus[]; ended?: string } = {
    statuses: [],
    send: (s) => out.statuses.push(s),
    end: (reason) => {
      out.ended = reason;
    },
  };
  return out;
}

const ticket = (live: LiveVisits, role: 'host' | 'guest', link: string) =>
  live.readTicket(live.issueTicket(visit, role, NOW + 3600, link));

test('one link with a stream on each of two instances is one guest on both', async () => {
  const hub = new Hub();
  const a = instance(hub.bus());
  const b = instance(hub.bus());
  const guest = await a.openStream(ticket(a, 'guest', 'jti-guest-1'), '10.0.0.1', sink());
  const again = await b.openStream(ticket(b, 'guest', 'jti-guest-1'), '10.0.0.2', sink());
  const other = await b.openStream(ticket(b, 'guest', 'jti-guest-2'), '10.0.0.2', sink());
  for (const live of [a, b]) {
    await eventually(
      () => live.presence(visit.id),
      (p) => p.guest === 2 && p.host === 0,
      'two guests (three streams) on both',
    );
  }
  // The link's 2 streams are held (one per instance): a third, on either, is refused.
  await assert.rejects(a.openStream(ticket(a, 'guest', 'jti-guest-1'), '10.0.0.3', sink()), {
    code: 'ERR_RATE_LIMITED',
  });
  guest.close();
  for (const live of [a, b]) {
    await eventually(
      () => live.presence(visit.id),
      (p) => p.guest === 2,
      'still two: the link has a stream on B',
    );
  }
  again.close();
  other.close();
  for (const live of [a, b]) {
    await eventually(
      () => live.presence(visit.id),
      (p) => p.guest === 0,
      'nobody',
    );
  }
});

test('a host whose stream moves to another instance within the grace period never left; gone once, after it', async () => {
  appended.length = 0;
  const hub = new Hub();
  const a = instance(hub.bus(), 60_000, 1);
  const b = instance(hub.bus(), 60_000, 1);
  const onA = await a.openStream(ticket(a, 'host', 'jti-host-grace'), '10.0.0.1', sink());
  await eventually(
    () => b.presence(visit.id),
    (p) => p.host === 1,
    'the host seen on B',
  );
  // The page reloads onto B: A's grace period is told to B, then the stream is there.
  onA.close();
  assert.equal(a.presence(visit.id).host, 1, 'present on A during the grace period');
  const onB = await b.openStream(ticket(b, 'host', 'jti-host-grace'), '10.0.0.1', sink());
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const live of [a, b]) assert.equal(live.presence(visit.id).host, 1);
  assert.deepEqual(appended, [], 'no host.left');
  // The tab is closed: gone on both once the grace period is over, recorded once.
  onB.close();
  for (const live of [a, b]) {
    await eventually(
      () => live.presence(visit.id),
      (p) => p.host === 0,
      'the host gone on both',
    );
  }
  await eventually(
    () => appended,
    (types) => types.length > 0,
    'host.left recorded',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(appended, ['host.left']);
});

test('a crashed instance leaves no ghost: its participants are forgotten after three silent refreshes', async () => {
  const hub = new Hub();
  const crashing = hub.bus();
  const a = instance(crashing, 40);
  const b = instance(hub.bus(), 40);
  await a.openStream(ticket(a, 'guest', 'jti-ghost'), '10.0.0.1', sink());
  const host = sink();
  await b.openStream(ticket(b, 'host', 'jti-host'), '10.0.0.2', host);
  await eventually(
    () => b.presence(visit.id).guest,
    (n) => n === 1,
    'B sees the guest on A',
  );
  // A dies without a word.
  crashing.mute = true;
  await eventually(
    () => b.presence(visit.id).guest,
    (n) => n === 0,
    'B to forget the silent instance',
  );
  await eventually(
    () => host.statuses.at(-1)?.guestsPresent,
    (n) => n === 0,
    "the host's stream hears it",
  );
});

test('a bus that missed messages heals when it listens again (the others repeat their presence)', async () => {
  const hub = new Hub();
  const a = instance(hub.bus());
  const deaf = hub.bus();
  const b = instance(deaf);
  deaf.deaf = true;
  await a.openStream(ticket(a, 'guest', 'jti-missed'), '10.0.0.1', sink());
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(b.presence(visit.id).guest, 0, 'B missed it');
  deaf.relisten();
  await eventually(
    () => b.presence(visit.id).guest,
    (n) => n === 1,
    'B to learn the guest again',
  );
});

test('messages of older instances (socket deltas) are not counted', async () => {
  const hub = new Hub();
  const bus = hub.bus();
  const a = instance(bus);
  for (let i = 0; i < 5; i++)
    bus.deliver({ visitId: visit.id, kind: 'presence', role: 'guest', delta: 1, origin: 'old' });
  assert.equal(a.presence(visit.id).guest, 0);
});

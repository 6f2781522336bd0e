/** A page ticket signed with a broker key rotated in by another instance is still accepted. */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Keyring } from '../../src/broker/keyring.js';
import { TicketError } from '../../src/errors.js';
import { LiveVisits } from '../../src/visits/live.js';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

test('a ticket of a key this instance has not loaded yet is verified after one reload', async () => {
  const { store, live, visits, org } = server.server.context;
  const visit = await visits.create(org, 'test', { crypto: { iterations: 1000 } });
  const record = (await store.getVisit(org.id, visit.id))!;
  // "Another instance": its own keyring and live service on the same store, after a rotation.
  const otherKeyring = new Keyring(store);
  await otherKeyring.load();
  await otherKeyring.rotate(Math.floor(Date.now() / 1000));
  const other = new LiveVisits({ store, keyring: otherKeyring });
  const ticket = other.issueTicket(record, 'guest', visit.expiresAt);
  assert.throws(() => live.readTicket(ticket), TicketError, 'this instance does not know the new key yet');
  const read = await live.verifyTicket(ticket);
  assert.equal(read.visitId, visit.id);
  assert.equal(read.role, 'guest');
  const status = await testFetch(`${server.url}/live/status?ticket=${ticket}`);
  assert.equal(status.status, 200);
  // A forged ticket is still refused after the reload.
  // Two characters changed (never to what they were: a ticket may end in AA).
  const forged = `${ticket.slice(0, -2)}${ticket.endsWith('AA') ? 'BB' : 'AA'}`;
  await assert.rejects(live.verifyTicket(forged), TicketError);
  await other.close();
});

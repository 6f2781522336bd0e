import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestMessage, hostMessage } from './messages.js';
import type { VisitView } from './service.js';

const link = (role: 'host' | 'guest', index: number, gateway: boolean) => ({
  role,
  index,
  cipher: `cipher-${role}-${index}`,
  shortUrl: `https://instant.webex.com/visit/${role}${index}xx`,
  longUrl: `https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=cipher-${role}-${index}`,
  ...(gateway ? { gatewayUrl: `https://visits.example.org/visit/${role}${index}GATEWAY` } : {}),
});

const visit = (gateway: boolean) =>
  ({
    subject: 'Virtual Visit - 42',
    start: '2026-12-08T10:00:00Z',
    end: '2026-12-08T10:30:00Z',
    gateway,
    hosts: [link('host', 0, gateway)],
    guests: [link('guest', 0, gateway), link('guest', 1, gateway)],
  }) as unknown as VisitView;

test("messages hand out the gateway's URLs when the visit has a gateway, and never Cisco's then", () => {
  const host = hostMessage(visit(true));
  const guests = guestMessage(visit(true));
  assert.match(host, /https:\/\/visits\.example\.org\/visit\/host0GATEWAY/);
  assert.match(guests, /visit\/guest0GATEWAY/);
  assert.match(guests, /visit\/guest1GATEWAY/);
  for (const text of [host, guests]) assert.doesNotMatch(text, /instant\.webex\.com|cipher-/);
});

test("without a gateway, messages hand out the broker's short URLs", () => {
  assert.match(hostMessage(visit(false)), /https:\/\/instant\.webex\.com\/visit\/host0xx/);
  assert.match(guestMessage(visit(false)), /instant\.webex\.com\/visit\/guest1xx/);
});

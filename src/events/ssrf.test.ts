import assert from 'node:assert/strict';
import { test } from 'node:test';
import { urlProblem } from './sender.js';
import { AddressPolicy } from './ssrf.js';

const REFUSED = [
  '127.0.0.1',
  '127.255.0.9',
  '10.1.2.3',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '100.100.100.200',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '::',
  '::1',
  'fd00:ec2::254',
  'fc00::1',
  'fe80::1',
  'ff02::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '64:ff9b::a00:1',
];
const ALLOWED = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];

test('by default: loopback, private, link-local, CGNAT, unique-local, multicast, metadata and mapped forms are refused', () => {
  const policy = new AddressPolicy(undefined);
  for (const ip of REFUSED) assert.match(policy.refusal(ip) ?? '', /EVENTS_ALLOW_PRIVATE/, ip);
  for (const ip of ALLOWED) assert.equal(policy.refusal(ip), undefined, ip);
  assert.match(policy.refusal('example.org') ?? '', /not an IP address/);
});

test('EVENTS_ALLOW_PRIVATE: true opens every range; a CIDR list opens only those', () => {
  const all = new AddressPolicy(true);
  for (const ip of REFUSED) assert.equal(all.refusal(ip), undefined, ip);
  const one = new AddressPolicy(['127.0.0.1/32', '10.20.0.0/16', 'fd12::/16']);
  assert.equal(one.refusal('127.0.0.1'), undefined);
  assert.equal(one.refusal('::ffff:127.0.0.1'), undefined, 'the mapped form of an opened address');
  assert.ok(one.refusal('127.0.0.2'));
  assert.equal(one.refusal('10.20.3.4'), undefined);
  assert.ok(one.refusal('10.21.0.1'));
  assert.equal(one.refusal('fd12::5'), undefined);
  assert.ok(one.refusal('fd13::5'));
  assert.throws(() => new AddressPolicy(['10.0.0.0/33']), /not an address or CIDR/);
  assert.throws(() => new AddressPolicy(['example.org/8']), /not an address or CIDR/);
});

test('URLs: http(s) only, no credentials, literal addresses checked before any DNS', () => {
  const policy = new AddressPolicy(undefined);
  assert.equal(
    urlProblem('https://ehr.example.org/hooks', policy),
    undefined,
    'names are checked when resolved',
  );
  assert.match(urlProblem('ftp://ehr.example.org/', policy) ?? '', /http/);
  assert.match(urlProblem('not a url', policy) ?? '', /absolute/);
  assert.match(urlProblem('https://user:pw@ehr.example.org/', policy) ?? '', /user name or password/);
  assert.match(urlProblem('http://[::1]:8080/', policy) ?? '', /::1/);
  assert.match(urlProblem('http://169.254.169.254/latest/meta-data/', policy) ?? '', /169\.254\.169\.254/);
  // The WHATWG parser normalises other spellings of an address before the check.
  assert.match(urlProblem('http://2130706433/', policy) ?? '', /127\.0\.0\.1/);
  assert.match(urlProblem('http://0x7f.1/', policy) ?? '', /127\.0\.0\.1/);
});

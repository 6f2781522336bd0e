/**
 * The SDK in TypeScript: a host and two guest links, short, for 30 minutes.
 *   IC_API_KEY=$(npx instant-connect keys create --name example --json | jq -r .key) npx tsx examples/sdk.ts
 * Against Cisco's cloud instead: BROKER=commercial (or usgov) and IC_API_KEY=<bot token>.
 */
import { InstantConnect } from 'instant-connect';

const token = process.env['IC_API_KEY'];
if (!token) throw new Error('Set IC_API_KEY to an API key of your broker (or a Webex bot token for Cisco)');

const ic = new InstantConnect({ broker: process.env['BROKER'] ?? 'http://127.0.0.1:8080', token });
const visit = await ic.createLinks({ hosts: 1, guests: 2, shortUrls: true, ttl: '30m' });

console.log(
  JSON.stringify({
    subject: visit.subject,
    expiresAt: new Date(visit.expiresAt * 1000).toISOString(),
    host: visit.hosts[0]?.shortUrl,
    guests: visit.guests.map((g) => g.shortUrl),
  }),
);

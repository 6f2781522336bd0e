/**
 * Short-code enumeration (issue 11, finding 10d): 1,000 random 7-character codes from one
 * address, 50 at a time, while a genuine guest follows its own short link. Only HTTP and the
 * CLI of ATTACK_ROOT. `found` counts codes that led somewhere (302).
 */
import { randomBytes } from 'node:crypto';
import { measureWhile, report, startTarget, tally } from './harness.js';

const AUDIENCE = 'a4d886b0-979f-4e2c-a958-3e8c14605e51';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const target = await startTarget();
try {
  const res = await fetch(`${target.url}/api/v2/joseencrypt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ aud: AUDIENCE, jwt: { sub: 'codes' }, iterations: 1000, provideShortUrls: true }),
  });
  if (res.status !== 200) throw new Error(`issuing failed: ${res.status}`);
  const made = (await res.json()) as { guest: Array<{ short: string }> };
  const code = made.guest[0]!.short;
  const cpu0 = target.cpuSeconds();
  const statuses: Array<number | 'error'> = [];
  const attack = (async () => {
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const guess = [...randomBytes(7)].map((b) => ALPHABET[b % 62]).join('');
          try {
            const r = await fetch(`${target.url}/visit/${guess}`, { redirect: 'manual' });
            await r.arrayBuffer();
            statuses.push(r.status);
          } catch {
            statuses.push('error');
          }
        }),
      );
    }
  })();
  // The genuine guest is on another address in real life; here it shares 127.0.0.1, so past the
  // budget it is refused too (the limit is per address): it is measured before the attack ends.
  const guest = await measureWhile(
    () => fetch(`${target.url}/visit/${code}`, { redirect: 'manual' }),
    attack,
    {
      everyMs: 100,
      ok: (r) => r.status === 302,
    },
  );
  report({
    attack: 'short-codes',
    load: '1,000 random short codes from one address, 50 at a time',
    genuine: { 'short link (same address)': guest },
    serverCpuSeconds: target.cpuSeconds() - cpu0,
    refusals: tally(statuses),
    extra: { lookedUp: statuses.filter((s) => s === 404 || s === 302).length },
  });
} finally {
  await target.stop();
}

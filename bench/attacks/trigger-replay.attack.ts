/**
 * Trigger replays (issue 11, finding 3): one correctly signed POST /hooks/visits, then the same
 * bytes replayed with other spellings of X-IC-Signature (NO-BREAK SPACE before or after, NEXT
 * LINE, the UTF-8 bytes of Unicode spaces, upper-case hex, ASCII spaces, the signature twice or
 * next to a wrong one, a tab inside). Counts the visits the replays made, through the API with
 * the key, and the answers by status. Only HTTP and the target's CLI: runs against the base too.
 *
 *   ATTACK_ROOT=/work/base node --import tsx bench/attacks/trigger-replay.attack.ts   (before)
 *   npm run build && node --import tsx bench/attacks/trigger-replay.attack.ts          (after)
 */
import { createHmac } from 'node:crypto';
import { measureWhile, report, startTarget, tally } from './harness.js';

const ROUNDS = Number(process.env['ATTACK_ROUNDS'] ?? 10);

const target = await startTarget();
try {
  const made = target.cli(['hooks', 'create', '--name', 'attack-bench', '--json']);
  if (made.status !== 0) throw new Error(`hooks create failed: ${made.stderr}`);
  const hook = JSON.parse(made.stdout) as { id: string; secret: string };

  const subject = `replayed-${Date.now()}`;
  const body = JSON.stringify({ subject, crypto: { iterations: 1000 } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const sign = (secret: string) =>
    `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
  const right = sign(hook.secret);
  const wrong = sign('ics_not-the-secret');
  // fetch sends header strings as Latin-1 bytes: a UTF-8 sequence is given as its bytes.
  const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  const variants: Record<string, string> = {
    'nbsp-after': `${right}\u00a0`,
    'nbsp-before': `\u00a0${right}`,
    'nbsp-twice': `${right}\u00a0\u00a0`,
    'next-line': `${right}\u0085`,
    'figure-space-utf8': utf8(`${right}\u2007`),
    'ideographic-space-utf8': utf8(`${right}\u3000`),
    'upper-hex': right.toUpperCase(),
    'ascii-spaces': `  ${right}  `,
    twice: `${right},${right}`,
    'with-wrong': `${right}, ${wrong}`,
    'after-wrong': `${wrong},${right}`,
    'tab-inside': `v1=\t${right.slice(3)}`,
  };
  const post = (signature: string) =>
    fetch(`${target.url}/hooks/visits`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-ic-hook': hook.id,
        'x-ic-timestamp': timestamp,
        'x-ic-signature': signature,
      },
      body,
    });

  const first = await post(right);
  await first.arrayBuffer();
  if (first.status !== 201) throw new Error(`the genuine signed request got ${first.status}`);

  const statuses: Array<number | 'error'> = [];
  const byVariant: Record<string, number> = {};
  const cpuBefore = target.cpuSeconds();
  const attack = (async () => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, signature] of Object.entries(variants)) {
        try {
          const res = await post(signature);
          await res.arrayBuffer();
          statuses.push(res.status);
          if (res.status < 300) byVariant[name] = (byVariant[name] ?? 0) + 1;
        } catch {
          statuses.push('error');
        }
      }
    }
  })();
  const genuine = await measureWhile(
    () => fetch(`${target.url}/api/visits?limit=1`, { headers: { authorization: `Bearer ${target.key}` } }),
    attack,
  );
  const serverCpuSeconds = target.cpuSeconds() - cpuBefore;

  // Issue 12, trap 3: a sender retrying the same signed bytes with the same Idempotency-Key.
  const keyedBody = `${body} `;
  const keyedHeaders = {
    'content-type': 'application/json',
    'x-ic-hook': hook.id,
    'x-ic-timestamp': timestamp,
    'x-ic-signature': `v1=${createHmac('sha256', hook.secret).update(`${timestamp}.`).update(keyedBody).digest('hex')}`,
    'idempotency-key': `bench-${subject}`,
  };
  const keyed = async () => {
    const res = await fetch(`${target.url}/hooks/visits`, {
      method: 'POST',
      headers: keyedHeaders,
      body: keyedBody,
    });
    const text = await res.text();
    return { status: res.status, id: res.status === 201 ? (JSON.parse(text) as { id: string }).id : '' };
  };
  const keyedFirst = await keyed();
  const keyedRetry = await keyed();

  let visits = 0;
  for (let offset = 0; ; offset += 100) {
    const res = await fetch(`${target.url}/api/visits?limit=100&offset=${offset}`, {
      headers: { authorization: `Bearer ${target.key}` },
    });
    const page = (await res.json()) as { items: { subject: string }[] };
    visits += page.items.filter((v) => v.subject === subject).length; // the first and the keyed one
    if (page.items.length < 100) break;
  }
  report({
    attack: 'trigger-replay',
    load: `1 signed trigger, then ${ROUNDS} × ${Object.keys(variants).length} replays with other spellings of X-IC-Signature`,
    genuine: { 'GET /api/visits': genuine },
    serverCpuSeconds: Number(serverCpuSeconds.toFixed(2)),
    refusals: tally(statuses),
    extra: {
      visitsMade: visits,
      extraVisits: visits - 2,
      keyedRetry: `${keyedFirst.status} then ${keyedRetry.status}${keyedRetry.id && keyedRetry.id === keyedFirst.id ? ' (same visit)' : ''}`,
      acceptedVariants:
        Object.entries(byVariant)
          .map(([k, v]) => `${k}:${v}`)
          .join(' ') || 'none',
    },
  });
} finally {
  await target.stop();
}

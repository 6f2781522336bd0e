/** `instant-connect hooks create|list|rotate|revoke`: secrets that sign requests to POST /hooks/visits. */

import { nowSeconds, parseDuration } from '../../domain/time.js';
import { type DataFlags, withBrokerContext } from '../broker-context.js';
import { CliError } from '../config.js';
import type { CliIo } from '../io.js';

export async function create(flags: DataFlags & { name: string }, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const { hook, secret } = await ctx.trigger.createHook(ctx.org, flags.name);
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ ...hook, secret }, null, 2)}\n`);
      return;
    }
    io.stderr.write(
      `Created hook ${hook.id} (${hook.name}). Its secret is shown once: store it in your workflow engine.\n`,
    );
    io.stdout.write(`X-IC-Hook: ${hook.id}\nsecret: ${secret}\n`);
    io.stderr.write(
      'Sign each request: X-IC-Timestamp: <epoch s>, X-IC-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>\n',
    );
  });
}

export async function list(flags: DataFlags, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const hooks = (await ctx.store.listHooks(ctx.org.id)).map(
      ({ secret: _s, previousSecret: _p, ...h }) => h,
    );
    if (flags.json) io.stdout.write(`${JSON.stringify(hooks, null, 2)}\n`);
    else if (hooks.length === 0)
      io.stderr.write('No hooks yet. Make one with: instant-connect hooks create --name NAME\n');
    else
      for (const h of hooks) {
        const previous =
          !h.revokedAt && h.previousSecretUntil && h.previousSecretUntil > Date.now() / 1000
            ? `  (previous secret accepted until ${new Date(h.previousSecretUntil * 1000).toISOString()})`
            : '';
        io.stdout.write(`${h.id}  ${h.name}${h.revokedAt ? '  (revoked)' : ''}${previous}\n`);
      }
  });
}

export async function revoke(id: string, flags: DataFlags, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    if (!(await ctx.store.revokeHook(ctx.org.id, id, nowSeconds()))) {
      throw new CliError(`No active hook with id ${id}`);
    }
    io.stderr.write(`Revoked ${id}: requests signed with its secret are refused from now on.\n`);
  });
}

/**
 * A new secret for a hook, printed once; the old one is still accepted for `--grace` (default
 * 24h; 0: refused at once), so a workflow engine moves over without a refused request.
 */
export async function rotate(id: string, flags: DataFlags & { grace?: string }, io: CliIo): Promise<void> {
  const grace = (flags.grace ?? '24h').trim();
  let graceSeconds = 0;
  if (grace !== '0') {
    const parsed = parseDuration(grace);
    if (!parsed.ok) throw new CliError(`--grace ${parsed.message}`, 2);
    graceSeconds = parsed.value;
  }
  if (graceSeconds > 30 * 86_400) throw new CliError('--grace must be at most 30 days', 2);
  await withBrokerContext(flags, io, async (ctx) => {
    let rotated: { secret: string; previousUntil: number };
    try {
      rotated = await ctx.trigger.rotateHook(ctx.org, id, graceSeconds);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_NOT_FOUND')
        throw new CliError(`No active hook with id ${id}`);
      throw err;
    }
    const until = new Date(rotated.previousUntil * 1000).toISOString();
    if (flags.json) {
      io.stdout.write(
        `${JSON.stringify({ id, secret: rotated.secret, previousSecretUntil: rotated.previousUntil }, null, 2)}\n`,
      );
      return;
    }
    io.stderr.write(
      `Rotated the secret of ${id}. The new secret is shown once: store it in your workflow engine.\n`,
    );
    io.stdout.write(`X-IC-Hook: ${id}\nsecret: ${rotated.secret}\n`);
    io.stderr.write(
      graceSeconds > 0
        ? `The previous secret is accepted until ${until}. While moving over, a sender may sign with both: X-IC-Signature: v1=<old>,v1=<new>\n`
        : 'The previous secret is refused from now on.\n',
    );
  });
}

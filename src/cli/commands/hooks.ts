/** `instant-connect hooks create|list|revoke`: secrets that sign requests to POST /hooks/visits. */
import { withBrokerContext } from '../broker-context.js';
import { CliError } from '../config.js';

export async function create(flags: {
  name: string;
  data?: string;
  database?: string;
  json?: boolean;
}): Promise<void> {
  await withBrokerContext(flags, async (ctx) => {
    const { hook, secret } = await ctx.trigger.createHook(ctx.org, flags.name);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...hook, secret }, null, 2)}\n`);
      return;
    }
    process.stderr.write(
      `Created hook ${hook.id} (${hook.name}). Its secret is shown once: store it in your workflow engine.\n`,
    );
    process.stdout.write(`X-IC-Hook: ${hook.id}\nsecret: ${secret}\n`);
    process.stderr.write(
      'Sign each request: X-IC-Timestamp: <epoch s>, X-IC-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>\n',
    );
  });
}

export async function list(flags: { data?: string; database?: string; json?: boolean }): Promise<void> {
  await withBrokerContext(flags, async (ctx) => {
    const hooks = (await ctx.store.listHooks(ctx.org.id)).map(({ secret: _s, ...h }) => h);
    if (flags.json) process.stdout.write(`${JSON.stringify(hooks, null, 2)}\n`);
    else if (hooks.length === 0)
      process.stderr.write('No hooks yet. Make one with: instant-connect hooks create --name NAME\n');
    else
      for (const h of hooks) process.stdout.write(`${h.id}  ${h.name}${h.revokedAt ? '  (revoked)' : ''}\n`);
  });
}

export async function revoke(id: string, flags: { data?: string; database?: string }): Promise<void> {
  await withBrokerContext(flags, async (ctx) => {
    if (!(await ctx.store.revokeHook(ctx.org.id, id, Math.floor(Date.now() / 1000)))) {
      throw new CliError(`No active hook with id ${id}`);
    }
    process.stderr.write(`Revoked ${id}: requests signed with its secret are refused from now on.\n`);
  });
}

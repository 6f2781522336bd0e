/** `instant-connect keys …`: API keys of the broker, and rotation of its token keys. */

import { nowSeconds } from '../../domain/time.js';
import { type DataFlags, withBrokerContext } from '../broker-context.js';
import type { CliIo } from '../io.js';
import { formatColumns } from '../output.js';

const when = (s?: number) => (s === undefined ? '-' : new Date(s * 1000).toISOString().replace('.000Z', 'Z'));

export async function create(flags: DataFlags & { name: string }, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const { key, record } = await ctx.apiKeys.create(ctx.org, flags.name);
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ ...record, key }, null, 2)}\n`);
      return;
    }
    io.stderr.write(`Created API key ${record.id} (${record.name}). It is shown once: store it now.\n`);
    io.stdout.write(`${key}\n`);
    io.stderr.write('Use it as: Authorization: Bearer <key>\n');
  });
}

export async function list(flags: DataFlags, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const keys = await ctx.apiKeys.list(ctx.org);
    if (flags.json) {
      io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      return;
    }
    if (keys.length === 0) {
      io.stderr.write('No API keys yet. Make one with: instant-connect keys create --name NAME\n');
      return;
    }
    const rows = [['ID', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED']];
    for (const k of keys)
      rows.push([k.id, k.name, `${k.prefix}…`, when(k.createdAt), when(k.lastUsedAt), when(k.revokedAt)]);
    io.stdout.write(formatColumns(rows));
  });
}

export async function revoke(id: string, flags: DataFlags, io: CliIo): Promise<void> {
  const { CliError } = await import('../config.js');
  await withBrokerContext(flags, io, async (ctx) => {
    if (!(await ctx.apiKeys.revoke(ctx.org, id))) throw new CliError(`No active API key with id ${id}`);
    io.stderr.write(`Revoked ${id}: requests with it are refused from now on.\n`);
  });
}

export async function rotateBroker(flags: DataFlags, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const now = nowSeconds();
    const kid = await ctx.keyring.rotate(now);
    const keys = ctx.keyring.describe(now);
    const older = keys.filter((k) => k.kid !== kid);
    const opening = older.filter((k) => k.state === 'opening');
    if (flags.json) {
      io.stdout.write(`${JSON.stringify({ kid, keys: ctx.keyring.size, older })}\n`);
      return;
    }
    const until = opening.map((k) => `${k.kid} until ${when(k.retiresAt)}`).join(', ');
    io.stderr.write(
      `New broker key ${kid} issues tokens from now on; ${older.length} older key(s), ${opening.length} of them still opening the tokens they issued${until ? ` (${until})` : ''}, the rest retired. Running servers issue with the new key from their next call.\n`,
    );
  });
}

/** `keys list-broker`: the broker's token keys, which one issues, and when the others retire. */
export async function listBroker(flags: DataFlags, io: CliIo): Promise<void> {
  await withBrokerContext(flags, io, async (ctx) => {
    const keys = ctx.keyring.describe(nowSeconds());
    if (flags.json) {
      io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      return;
    }
    const rows = [['KID', 'CREATED', 'STATE', 'RETIRES']];
    for (const k of keys) rows.push([k.kid, when(k.createdAt), k.state, when(k.retiresAt)]);
    io.stdout.write(formatColumns(rows));
  });
}

/**
 * `keys export-broker [--kid KID]`: the secrets of one broker key (default: the active one) as
 * two oct JWKs, so a consumer's own JOSE library can open and verify its tokens
 * (docs/token-format.md). stdout gets a JWK Set, once; stderr the warning and the key's state.
 * `--json` adds the key's kid, state and times to the set (libraries ignore extra members).
 */
export async function exportBroker(
  flags: {
    kid?: string;
    data?: string;
    database?: string;
    json?: boolean;
  },
  io: CliIo,
): Promise<void> {
  const { CliError } = await import('../config.js');
  const { brokerKeyJwks } = await import('../../crypto/keys.js');
  await withBrokerContext(flags, io, async (ctx) => {
    const now = nowSeconds();
    const found = ctx.keyring.find(flags.kid, now);
    if (!found) {
      const known = ctx.keyring
        .describe(now)
        .map((k) => `${k.kid} (${k.state})`)
        .join(', ');
      throw new CliError(`No broker key with kid ${flags.kid}; the broker holds ${known}`, 2);
    }
    const { key, state, retiresAt } = found;
    const { encryption, signing } = brokerKeyJwks(key);
    const set = { keys: [encryption, signing] };
    const meta = {
      kid: key.kid,
      state,
      createdAt: key.createdAt,
      ...(retiresAt !== undefined ? { retiresAt } : {}),
    };
    io.stderr.write(
      `Warning: these are the secrets of broker key ${key.kid}. Whoever holds them can open every token it sealed and forge new ones that this broker accepts. Keep them like a password; rotate with "keys rotate-broker" if they leak.\n`,
    );
    io.stderr.write(
      state === 'active'
        ? `Broker key ${key.kid} is active: it seals every new token.\n`
        : state === 'opening'
          ? `Broker key ${key.kid} no longer issues; it opens the tokens it sealed until ${when(retiresAt)}.\n`
          : `Broker key ${key.kid} is retired (since ${when(retiresAt)}): this broker opens nothing with it any more.\n`,
    );
    io.stdout.write(`${JSON.stringify(flags.json ? { ...meta, ...set } : set, null, 2)}\n`);
  });
}

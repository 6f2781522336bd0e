/**
 * `instant-connect webhook register|list|delete`: the bot's Webex webhooks, without the developer
 * portal. Register makes two (messages created, attachment actions created) with one generated
 * secret, stored in the data directory for `serve` to check X-Spark-Signature with. Only webhooks
 * this project made (named "instant-connect …") are listed or deleted unless told otherwise.
 */

import { randomBytes } from 'node:crypto';
import { WEBHOOK_SECRET_SETTING } from '../../bot/bot.js';
import { webexApiBase } from '../../main/settings.js';
import { MEETINGS_WEBHOOK_SECRET_SETTING } from '../../meetings/telemetry.js';
import { CliError, databaseUrl, dataDir, whereData } from '../config.js';
import { findToken, type TokenFlags } from '../credentials.js';
import type { CliIo } from '../io.js';

const PREFIX = 'instant-connect';

interface Flags extends TokenFlags {
  data?: string;
  database?: string;
  broker?: string;
  apiUrl?: string;
  json?: boolean;
  all?: boolean;
}

/** What `register` makes: the bot's two webhooks, or meeting telemetry's four. */
const KINDS = {
  bot: {
    path: '/hooks/webex',
    setting: WEBHOOK_SECRET_SETTING,
    hooks: [
      ['messages', 'created', 'messages'],
      ['attachmentActions', 'created', 'cards'],
    ],
  },
  meetings: {
    path: '/hooks/webex/meetings',
    setting: MEETINGS_WEBHOOK_SECRET_SETTING,
    hooks: [
      ['meetings', 'started', 'meetings started'],
      ['meetings', 'ended', 'meetings ended'],
      ['meetingParticipants', 'joined', 'participants joined'],
      ['meetingParticipants', 'left', 'participants left'],
    ],
  },
} as const;

async function client(flags: Flags, io: CliIo) {
  const token = findToken(flags, io);
  if (!token)
    throw new CliError(
      'no bot token: put WEBEX_TOKEN in .env or the environment, or use --token-file FILE',
      2,
    );
  const { WebexClient } = await import('../../adapters/webex/client.js');
  return new WebexClient(token, webexApiBase(flags, io.env));
}

export async function register(
  flags: Flags & { url: string; meetings?: boolean; org?: boolean },
  io: CliIo,
): Promise<void> {
  const kind = flags.meetings ? KINDS.meetings : KINDS.bot;
  if (flags.org && !flags.meetings) throw new CliError('--org goes with --meetings', 2);
  const database = databaseUrl(flags.database, io.env); // a bad URL is reported before any webhook is made
  let target: URL;
  try {
    target = new URL(flags.url);
  } catch {
    throw new CliError(
      `--url must be the public https URL of POST ${kind.path}, e.g. https://visits.example.org${kind.path}`,
      2,
    );
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:')
    throw new CliError('--url must be http(s)', 2);
  if (!target.pathname.endsWith(kind.path)) {
    io.stderr.write(
      `warning: ${target.href} does not end in ${kind.path}, where the server listens for them\n`,
    );
  }
  const webex = await client(flags, io);
  const secret = randomBytes(32).toString('hex');
  const resources = new Set<string>(kind.hooks.map(([resource]) => resource));
  const existing = (await webex.listWebhooks()).filter(
    (w) => w.name.startsWith(PREFIX) && w.targetUrl === target.href && resources.has(w.resource),
  );
  for (const old of existing) await webex.deleteWebhook(old.id);
  const made = [];
  for (const [resource, event, label] of kind.hooks) {
    made.push(
      await webex.createWebhook({
        name: `${PREFIX} ${label}`,
        targetUrl: target.href,
        resource,
        event,
        secret,
        ...(flags.org ? { ownedBy: 'org' as const } : {}),
      }),
    );
  }
  const { openStore } = await import('../../store/open.js');
  const store = await openStore({
    dataDir: dataDir(flags.data, io),
    ...(database ? { databaseUrl: database } : {}),
  });
  try {
    await store.setSetting(kind.setting, secret);
  } finally {
    await store.close();
  }
  const view = made.map(({ secret: _s, ...w }) => w);
  if (flags.json)
    io.stdout.write(`${JSON.stringify({ webhooks: view, replaced: existing.length }, null, 2)}\n`);
  else {
    for (const w of view) io.stdout.write(`${w.id}  ${w.resource}/${w.event}  → ${w.targetUrl}\n`);
    io.stderr.write(
      `Registered ${made.length} webhooks${existing.length ? ` (replaced ${existing.length})` : ''}. Their secret is stored in ${whereData(dataDir(flags.data, io), database)}; restart serve if it is running.\n`,
    );
  }
}

export async function list(flags: Flags, io: CliIo): Promise<void> {
  const webex = await client(flags, io);
  const hooks = (await webex.listWebhooks())
    .filter((w) => flags.all || w.name.startsWith(PREFIX))
    .map(({ secret: _s, ...w }) => w);
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(hooks, null, 2)}\n`);
    return;
  }
  if (hooks.length === 0)
    io.stderr.write(
      'No webhooks. Make them with: instant-connect webhook register --url https://…/hooks/webex\n',
    );
  for (const w of hooks)
    io.stdout.write(`${w.id}  ${w.name}  ${w.resource}/${w.event}  ${w.status ?? ''}  → ${w.targetUrl}\n`);
}

export async function remove(id: string, flags: Flags & { force?: boolean }, io: CliIo): Promise<void> {
  const webex = await client(flags, io);
  const hook = (await webex.listWebhooks()).find((w) => w.id === id);
  if (!hook) throw new CliError(`No webhook ${id}`);
  if (!hook.name.startsWith(PREFIX) && !flags.force) {
    throw new CliError(
      `Webhook ${id} ("${hook.name}") was not made by instant-connect; use --force to delete it anyway`,
    );
  }
  await webex.deleteWebhook(id);
  io.stderr.write(`Deleted webhook ${id}.\n`);
}

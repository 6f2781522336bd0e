/**
 * The `instant-connect` command as a function: `runCli(argv, io)` parses the arguments, runs one
 * subcommand with `io` (its streams, environment and working directory) and resolves to the exit
 * code. The bin (main.ts) calls it with the process's own io; tests call it in-process.
 * Each subcommand loads its own modules on demand, so `--version` and `links` never pay for the
 * server or database code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ENCS, JWE_ALGS, JWS_ALGS, VERTICALS } from '../domain/constants.js';
import { CliError, parsePort, parsePositiveInt } from './config.js';
import type { CliIo } from './io.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const dataOption = () =>
  new Option('--data <dir>', 'data directory of the embedded database (env DATA_DIR)').default(
    undefined,
    './data',
  );

const databaseOption = () =>
  new Option(
    '--database <url>',
    'PostgreSQL instead of the embedded database: postgres://user:pass@host/db (env DATABASE_URL, better: a flag shows in ps)',
  );

const examples = (...lines: string[]) =>
  `\nExamples:\n${lines.map((line) => `  $ instant-connect ${line}`).join('\n')}`;

/**
 * The program, writing through `io`; `ran` receives what a subcommand returns (its exit code, when
 * it has one other than 0).
 */
function buildProgram(io: CliIo, ran: (code: unknown) => void = () => {}): Command {
  const program = new Command('instant-connect')
    .description('Webex Instant Connect meeting links: make host and guest links, or run your own broker.')
    .version(pkg.version, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  $ instant-connect links --short               # host and guest links from the local broker
  $ instant-connect serve                       # the broker and service on http://127.0.0.1:8080
  $ instant-connect keys create --name ehr      # an API key for POST /api/v2/joseencrypt
  $ instant-connect whoami                      # check a Webex bot token`,
  );

  const collect = (value: string, previous: string[]) => [...previous, value];
  const tokenOptions = (cmd: Command) =>
    cmd
      .option('--token-file <file>', 'read the Webex token (or broker API key) from a file')
      .addOption(
        new Option('--token <token>', 'the token itself (warns: it lands in shell history)').hideHelp(),
      );

  const links = program
    .command('links')
    .description('make host and guest links (local broker, Cisco commercial or US government)')
    .option(
      '--subject <text>',
      'meeting space (same subject, same meeting); a unique one is made when absent',
    )
    .option('--hosts <n>', 'host links (default 1)', parsePositiveInt)
    .option(
      '--guests <n>',
      'guest links, any number: batched past 25 with the same subject (default 1)',
      parsePositiveInt,
    )
    .option('--start <when>', 'when links open: now, +2h, 14:30, "2026-11-28 14:30" or ISO-8601')
    .option('--end <when>', 'when links stop working (same forms as --start)')
    .option('--ttl <duration>', 'how long links work from --start: 45m, 1h30m, PT45M (default 15m)')
    .option('--tz <zone>', 'IANA time zone for local times, e.g. Europe/London (default: this machine)')
    .option('--device <sip-uri>', 'room device to dial in when the host joins (repeatable)', collect, [])
    .option('--short', 'ask for short links')
    .addOption(new Option('--vertical <v>', 'page flavour: gen or hc (default hc)').choices([...VERTICALS]))
    .option('--no-host-login', 'host links without a Webex login')
    .addOption(new Option('--jwe-alg <alg>', 'key encryption').choices([...JWE_ALGS]))
    .addOption(new Option('--enc <enc>', 'content encryption').choices([...ENCS]))
    .addOption(new Option('--jws-alg <alg>', 'signature of the inner JWT').choices([...JWS_ALGS]))
    .option('--salt-length <bytes>', 'PBES2 salt, 8..128 (default random)', parsePositiveInt)
    .option('--iterations <n>', 'PBES2 iterations, 1000..32767 (default random)', parsePositiveInt)
    .option(
      '--broker <where>',
      'local, commercial, usgov or a broker URL (env BROKER; default local without a token)',
    )
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', "print the SDK's result as JSON")
    .option('--csv', 'print CSV, one row per link')
    .option('--field <path>', 'print one value of the JSON result, e.g. guests.0.shortUrl')
    .option('--qr', 'print a terminal QR code of the first guest link')
    .option('--qr-png <file>', 'write a PNG QR code of the first guest link');
  tokenOptions(links)
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect links --short                          # local broker, no account needed
  $ instant-connect links --guests 60 --short --csv > links.csv
  $ instant-connect links --start 14:30 --ttl 45m --tz Europe/London --field guests.0.shortUrl
  $ instant-connect links --device room1@example.room.wbx2.com --vertical gen
  $ WEBEX_TOKEN=… instant-connect links --broker usgov --short --qr`,
    )
    .action(async (flags) => ran(await (await import('./commands/links.js')).run(flags, io)));

  const whoami = program
    .command('whoami')
    .description('check a Webex token: valid or not, bot or person, which org')
    .option('--broker <where>', 'commercial or usgov: which Webex API to ask (env BROKER)')
    .option('--api-url <url>', 'Webex API base, e.g. https://webexapis.com/v1 (env WEBEX_API_URL)')
    .option('--json', 'print JSON');
  tokenOptions(whoami)
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect whoami                     # WEBEX_TOKEN from the environment or .env
  $ instant-connect whoami --token-file bot.token --broker usgov`,
    )
    .action(async (flags) => ran(await (await import('./commands/whoami.js')).run(flags, io)));

  program
    .command('backup')
    .description('a consistent copy of the embedded SQLite database, safe while serve runs')
    .requiredOption('--out <file>', 'where to write the copy (mode 0600)')
    .option('--force', 'replace --out if it exists')
    .addOption(dataOption())
    .addOption(databaseOption())
    .addHelpText(
      'after',
      `
PostgreSQL (DATABASE_URL) is backed up with pg_dump. A backup holds the broker's secrets: keep it like one.

Examples:
  $ instant-connect backup --out /var/backups/instant-connect-$(date +%F).db`,
    )
    .action(async (flags) => ran(await (await import('./commands/backup.js')).run(flags, io)));

  program
    .command('purge')
    .description(
      'delete visits that finished (ended, expired, cancelled) before a cutoff, with their links, events, short links and unused spaces',
    )
    .requiredOption('--older-than <duration>', 'finished longer ago than this: 90d, 12w, 2160h')
    .option('--dry-run', 'count what would go, delete nothing')
    .option('--json', 'print JSON')
    .addOption(dataOption())
    .addOption(databaseOption())
    .addHelpText(
      'after',
      `
Open, live and scheduled visits are never removed. RETENTION_DAYS makes serve's pruning job do the same.

Examples:
  $ instant-connect purge --older-than 90d --dry-run
  $ instant-connect purge --older-than 12w --json`,
    )
    .action(async (flags) => ran(await (await import('./commands/purge.js')).run(flags, io)));

  const doctor = program
    .command('doctor')
    .description(
      'check what a visit needs before one fails: token, broker, public URL, database, prerequisites',
    )
    .option(
      '--broker <where>',
      'local, commercial, usgov or a broker URL (env BROKER; default commercial with a token)',
    )
    .option('--api-url <url>', 'Webex API base (env WEBEX_API_URL)')
    .option('--public-url <url>', 'where serve is reached (env PUBLIC_URL)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON');
  tokenOptions(doctor)
    .addHelpText(
      'after',
      `
Exits 1 when a check fails. It only reads: it creates, migrates and changes nothing.

Examples:
  $ instant-connect doctor                      # the local broker and the server at PUBLIC_URL
  $ WEBEX_TOKEN=… instant-connect doctor --broker usgov`,
    )
    .action(async (flags) => ran(await (await import('./commands/doctor.js')).run(flags, io)));

  program
    .command('decode')
    .description('show what a link is: its form, JWE header and, for local links, its claims and validity')
    .argument('<link>', 'a long link, a short link or a cipher')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect decode http://127.0.0.1:8080/visit/Kuyqdx3
  $ instant-connect decode 'https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=eyJwMnMiOi…'`,
    )
    .action(async (link, flags) => ran(await (await import('./commands/decode.js')).run(link, flags, io)));

  const webhook = program
    .command('webhook')
    .description(
      "Webex webhooks with a generated secret the server uses: the bot's (messages and cards), or meeting telemetry's (--meetings)",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect webhook register --url https://visits.example.org/hooks/webex
  $ instant-connect webhook register --meetings --org --token-file admin-token --url https://visits.example.org/hooks/webex/meetings
  $ instant-connect webhook list
  $ instant-connect webhook delete Y2lzY29zcGFyazovL3VzL1dFQkhPT0sv…`,
    );
  const webexOptions = (cmd: Command) =>
    tokenOptions(cmd)
      .option('--broker <where>', 'commercial or usgov: which Webex API (env BROKER)')
      .option('--api-url <url>', 'Webex API base (env WEBEX_API_URL)')
      .option('--json', 'print JSON');
  webexOptions(
    webhook
      .command('register')
      .description('create the webhooks for POST <url> and store their secret in the data directory')
      .requiredOption(
        '--url <url>',
        "public URL of this server's /hooks/webex (--meetings: /hooks/webex/meetings)",
      )
      .option(
        '--meetings',
        "meeting telemetry's webhooks instead: meetings started and ended, participants joined and left (a token with meeting:schedules_read and meeting:participants_read)",
      )
      .option(
        '--org',
        "with --meetings: every meeting of the organisation (an administrator's token, ownedBy org)",
      )
      .addOption(dataOption())
      .addOption(databaseOption()),
  ).action(async (flags) => ran(await (await import('./commands/webhook.js')).register(flags, io)));
  webexOptions(
    webhook
      .command('list')
      .description("list this project's webhooks (--all: every webhook of the bot)")
      .option('--all', 'every webhook'),
  ).action(async (flags) => ran(await (await import('./commands/webhook.js')).list(flags, io)));
  webexOptions(
    webhook
      .command('delete')
      .description("delete one of this project's webhooks")
      .argument('<id>', 'webhook id')
      .option('--force', 'also delete a webhook this project did not make'),
  ).action(async (id, flags) => ran(await (await import('./commands/webhook.js')).remove(id, flags, io)));

  const hooks = program
    .command('hooks')
    .description('secrets that sign workflow requests to POST /hooks/visits')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect hooks create --name ehr-scheduler
  $ instant-connect hooks list
  $ instant-connect hooks rotate hook_AbCdEf012345 --grace 24h
  $ instant-connect hooks revoke hook_AbCdEf012345`,
    );
  hooks
    .command('create')
    .description('make a hook; its secret is printed once')
    .requiredOption('--name <name>', 'what the hook is for')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON with the secret in a "secret" field')
    .action(async (flags) => ran(await (await import('./commands/hooks.js')).create(flags, io)));
  hooks
    .command('list')
    .description('list hooks (never their secrets)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .action(async (flags) => ran(await (await import('./commands/hooks.js')).list(flags, io)));
  hooks
    .command('rotate')
    .description('give a hook a new secret, printed once; the old one still works for --grace')
    .argument('<id>', 'hook id')
    .option(
      '--grace <duration>',
      'how long the previous secret is still accepted (24h, 90m, 0: not at all)',
      '24h',
    )
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON with the new secret in a "secret" field')
    .action(async (id, flags) => ran(await (await import('./commands/hooks.js')).rotate(id, flags, io)));
  hooks
    .command('revoke')
    .description('revoke a hook')
    .argument('<id>', 'hook id')
    .addOption(dataOption())
    .addOption(databaseOption())
    .action(async (id, flags) => ran(await (await import('./commands/hooks.js')).revoke(id, flags, io)));

  const events = program
    .command('events')
    .description('outbound visit events: subscribers, signed deliveries (Standard Webhooks), replays')
    .addHelpText(
      'after',
      `
Types: visit.created, visit.cancelled, visit.rescheduled, link.opened, link.delivered,
link.delivery_failed, visit.waiting, host.joined, visit.live, visit.ended, visit.no_show,
subscription.disabled (or * for all).

Examples:
  $ instant-connect events subscribe --url https://ehr.example.org/hooks --types visit.created,link.opened
  $ instant-connect events list
  $ instant-connect events deliveries --subscription sub_AbCdEf012345
  $ instant-connect events replay 42
  $ instant-connect events rotate sub_AbCdEf012345 --grace 24h
  $ instant-connect events unsubscribe sub_AbCdEf012345`,
    );
  const eventsCommand = () => import('./commands/events.js');
  events
    .command('subscribe')
    .description('send events of these types to a URL; the signing secret is printed once')
    .requiredOption('--url <url>', 'where deliveries are POSTed')
    .requiredOption('--types <types>', 'comma list of event types, or *')
    .option('--description <text>', 'what the subscriber is')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print the subscription as JSON, with its secret in a "secret" field')
    .action(async (flags) => ran(await (await eventsCommand()).subscribe(flags, io)));
  events
    .command('list')
    .description('list subscriptions (never their secrets)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .action(async (flags) => ran(await (await eventsCommand()).list(flags, io)));
  events
    .command('deliveries')
    .description('list deliveries, newest first, with their attempts')
    .option('--subscription <id>', 'only this subscription')
    .option('--visit <id>', 'only this visit')
    .option('--status <status>', 'pending, delivered or failed')
    .option('--limit <n>', 'at most this many (1 to 200)', '50')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .action(async (flags) => ran(await (await eventsCommand()).deliveries(flags, io)));
  events
    .command('replay')
    .description('send a delivered or failed delivery again, with the same webhook-id')
    .argument('<delivery-id>', 'delivery id')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print the delivery as JSON')
    .action(async (id, flags) => ran(await (await eventsCommand()).replay(id, flags, io)));
  events
    .command('rotate')
    .description('give a subscription a new secret, printed once; the old one also signs for --grace')
    .argument('<id>', 'subscription id')
    .option('--grace <duration>', 'how long deliveries carry the previous signature too (24h, 90m, 0)', '24h')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON with the new secret in a "secret" field')
    .action(async (id, flags) => ran(await (await eventsCommand()).rotate(id, flags, io)));
  events
    .command('unsubscribe')
    .description('stop sending to a subscription')
    .argument('<id>', 'subscription id')
    .addOption(dataOption())
    .addOption(databaseOption())
    .action(async (id, flags) => ran(await (await eventsCommand()).unsubscribe(id, flags, io)));

  const exporter = program
    .command('export')
    .description('the API description for other tools: a Postman collection, or the OpenAPI document')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect export postman --out instant-connect.postman.json
  $ instant-connect export postman --broker commercial > lab.postman.json
  $ instant-connect export openapi --out openapi.json`,
    );
  exporter
    .command('postman')
    .description(
      'a Postman collection (v2.1) and environment with mtg-broker-url and bot-token, as the Instant Connect lab names them',
    )
    .option(
      '--out <file|dir>',
      'write the collection here (default: stdout); a directory (or DIR/) gets instant-connect.postman.json',
    )
    .option(
      '--environment-out <file>',
      'write the environment here (default with --out: next to it, FILE.environment.json in place of FILE.json)',
    )
    .option(
      '--broker <where>',
      'the value of mtg-broker-url: local (this server: PUBLIC_URL or http://127.0.0.1:PORT), commercial, usgov or a URL',
    )
    .addHelpText(
      'after',
      examples(
        'export postman --out instant-connect.postman.json   # and instant-connect.postman.environment.json',
        'export postman --broker commercial --out lab.json --environment-out lab-env.json',
      ),
    )
    .action(async (flags) => ran(await (await import('./commands/export.js')).postman(flags, io)));
  exporter
    .command('openapi')
    .description('the OpenAPI 3.1 document that GET /openapi.json serves')
    .option('--out <file>', 'write it here (default: stdout)')
    .option('--public-url <url>', 'the server URL to list in `servers`')
    .addHelpText('after', examples('export openapi --out openapi.json'))
    .action(async (flags) => ran(await (await import('./commands/export.js')).openapi(flags, io)));

  program
    .command('serve')
    .description('run the broker and service (HTTP) on the embedded database, or on PostgreSQL')
    .option('-p, --port <port>', 'port to listen on (env PORT)', parsePort)
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--public-url <url>', 'public origin of this server, for links (env PUBLIC_URL)')
    .option('-q, --quiet', 'no request logs')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect serve
  $ PORT=9000 instant-connect serve --data /var/lib/instant-connect
  $ DATABASE_URL=postgres://ic:…@db.internal/ic instant-connect serve   # several instances, one database
  $ instant-connect serve --host 0.0.0.0 --public-url https://visits.example.org`,
    )
    .action(async (flags) => ran(await (await import('./commands/serve.js')).run(flags, io)));

  const keys = program
    .command('keys')
    .description('manage the API keys of the broker and rotate its token keys')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect keys create --name ehr
  $ instant-connect keys create --name ci --json | jq -r .key
  $ instant-connect keys list
  $ instant-connect keys revoke key_0123456789ab
  $ instant-connect keys rotate-broker
  $ instant-connect keys list-broker
  $ instant-connect keys export-broker > broker-jwks.json`,
    );
  keys
    .command('create')
    .description('make an API key; it is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON with the key in a "key" field')
    .addHelpText('after', examples('keys create --name ehr', 'keys create --name ci --json | jq -r .key'))
    .action(async (flags) => ran(await (await import('./commands/keys.js')).create(flags, io)));
  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples('keys list', 'keys list --json --data /var/lib/instant-connect'))
    .action(async (flags) => ran(await (await import('./commands/keys.js')).list(flags, io)));
  keys
    .command('revoke')
    .description('revoke an API key by its id')
    .argument('<id>', 'key id, as shown by keys list')
    .addOption(dataOption())
    .addOption(databaseOption())
    .addHelpText('after', examples('keys revoke key_0123456789ab'))
    .action(async (id, flags) => ran(await (await import('./commands/keys.js')).revoke(id, flags, io)));
  keys
    .command('rotate-broker')
    .description(
      'make a new broker token key; older keys keep opening the tokens they issued until those expire, then retire',
    )
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples('keys rotate-broker', 'keys rotate-broker --json'))
    .action(async (flags) => ran(await (await import('./commands/keys.js')).rotateBroker(flags, io)));
  keys
    .command('list-broker')
    .description(
      'list the broker token keys (never their secrets): the active one, and when the others retire',
    )
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'print JSON')
    .addHelpText('after', examples('keys list-broker', 'keys list-broker --json'))
    .action(async (flags) => ran(await (await import('./commands/keys.js')).listBroker(flags, io)));
  keys
    .command('export-broker')
    .description(
      'print a broker token key (default: the active one) as JWKs, so your own JOSE library can open its tokens; whoever holds them can also forge them',
    )
    .option('--kid <kid>', 'which key, as shown by keys list-broker (retired ones too)')
    .addOption(dataOption())
    .addOption(databaseOption())
    .option('--json', 'add the kid, state and times to the JWK Set')
    .addHelpText(
      'after',
      examples('keys export-broker > broker-jwks.json', 'keys export-broker --kid KIhVEBt_8kzS --json'),
    )
    .action(async (flags) => ran(await (await import('./commands/keys.js')).exportBroker(flags, io)));
  return program;
}

/**
 * Runs the CLI on `argv` (the arguments after the command name, e.g. `['links', '--json']`) and
 * resolves to the exit code: 0 done, 1 failed, 2 bad usage. It never exits the process and never
 * reads `.env` (the bin does that before). `serve` resolves once the server listens, and keeps it.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    if (typeof code === 'number') exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    // Help and version exit 0; usage errors exit 2 (the shell convention for bad arguments).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const { exitCode: code, message } = describe(err);
    io.stderr.write(`error: ${message}\n`);
    return code;
  }
}

function describe(err: unknown): { exitCode: number; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  const e = err as { code?: string; message?: string };
  if (e.code === 'ERR_VALIDATION') return { exitCode: 2, message: e.message ?? 'invalid input' };
  if (e.code === 'EADDRINUSE')
    return { exitCode: 1, message: `${e.message}: the port is taken; choose another with --port` };
  return { exitCode: 1, message: e.message ?? String(err) };
}

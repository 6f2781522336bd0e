#!/usr/bin/env node
/**
 * The `instant-connect` command. Each subcommand loads its own modules on demand, so
 * `--version` and `links` never pay for the server or database code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { CliError, loadDotEnv, parsePort } from './config.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const dataOption = () =>
  new Option('--data <dir>', 'data directory of the embedded database (env DATA_DIR)').default(
    undefined,
    './data',
  );

export function buildProgram(): Command {
  const program = new Command('instant-connect')
    .description('Webex Instant Connect meeting links: make host and guest links, or run your own broker.')
    .version(pkg.version, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  $ instant-connect serve                       # the broker and service on http://127.0.0.1:8080
  $ instant-connect keys create --name ehr      # an API key for POST /api/v2/joseencrypt`,
  );

  program
    .command('serve')
    .description('run the broker and service (HTTP) on the embedded database')
    .option('-p, --port <port>', 'port to listen on (env PORT)', parsePort)
    .option('--host <host>', 'address to listen on (env HOST)', '127.0.0.1')
    .addOption(dataOption())
    .option('--public-url <url>', 'public origin of this server, for links (env PUBLIC_URL)')
    .option('-q, --quiet', 'no request logs')
    .addHelpText(
      'after',
      `
Examples:
  $ instant-connect serve
  $ PORT=9000 instant-connect serve --data /var/lib/instant-connect
  $ instant-connect serve --host 0.0.0.0 --public-url https://visits.example.org`,
    )
    .action(async (flags) => (await import('./commands/serve.js')).run(flags));

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
  $ instant-connect keys rotate-broker`,
    );
  keys
    .command('create')
    .description('make an API key; it is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(dataOption())
    .option('--json', 'print JSON with the key in a "key" field')
    .action(async (flags) => (await import('./commands/keys.js')).create(flags));
  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (flags) => (await import('./commands/keys.js')).list(flags));
  keys
    .command('revoke')
    .description('revoke an API key by its id')
    .argument('<id>', 'key id, as shown by keys list')
    .addOption(dataOption())
    .action(async (id, flags) => (await import('./commands/keys.js')).revoke(id, flags));
  keys
    .command('rotate-broker')
    .description('make a new broker token key; older keys keep opening the tokens they issued')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (flags) => (await import('./commands/keys.js')).rotateBroker(flags));
  return program;
}

async function main(argv: string[]): Promise<void> {
  loadDotEnv();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors exit 2 (the shell convention for bad arguments).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const { exitCode, message } = describe(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = exitCode;
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

await main(process.argv);

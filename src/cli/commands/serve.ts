/** `instant-connect serve`: the broker and service on an embedded database. */
import { DEFAULT_HOST, DEFAULT_PORT, dataDir, parsePort } from '../config.js';

export interface ServeFlags {
  port?: number;
  host?: string;
  data?: string;
  publicUrl?: string;
  quiet?: boolean;
}

export async function run(flags: ServeFlags): Promise<void> {
  const { startServer } = await import('../../server/serve.js');
  const envPort = process.env['PORT'];
  const port = flags.port ?? (envPort !== undefined ? parsePort(envPort) : DEFAULT_PORT);
  const host = flags.host ?? process.env['HOST'] ?? DEFAULT_HOST;
  const dir = dataDir(flags.data);
  const publicUrl = flags.publicUrl ?? process.env['PUBLIC_URL'];
  const broker = process.env['BROKER'] ?? 'local';
  const token = process.env['WEBEX_TOKEN']?.trim();
  const server = await startServer({
    linkSource: { broker, ...(token ? { token } : {}) },
    ...(process.env['TZ'] ? { timeZone: process.env['TZ'] } : {}),
    port,
    host,
    dataDir: dir,
    ...(publicUrl ? { publicUrl } : {}),
    logger: flags.quiet ? false : { level: process.env['LOG_LEVEL'] ?? 'info' },
  });
  const { org, created, store } = server.context;
  const lines = [
    `instant-connect listening on ${server.url}`,
    `  data:          ${dir} (${store.kind})`,
    `  organisation:  ${org.name} (${org.id})`,
    `  short links:   ${server.publicUrl}/visit/<code>`,
    `  visit links:   ${broker === 'local' ? 'the local broker' : `${broker} (with WEBEX_TOKEN)`}`,
  ];
  if (created.org) lines.push('  first start:   created the database, the broker key and the organisation');
  lines.push(
    '',
    'Make an API key for POST /api/v2/joseencrypt:',
    `  npx instant-connect keys create --name my-app --data ${JSON.stringify(dir)}`,
    'Or make links straight away:',
    '  npx instant-connect links --short',
  );
  process.stderr.write(`${lines.join('\n')}\n`);

  const stop = (signal: string) => {
    process.stderr.write(`\n${signal}: finishing requests in flight and closing the database…\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

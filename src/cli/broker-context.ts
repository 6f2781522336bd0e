/** Runs `fn` on the broker context of the data directory (or database) the flags name, then closes it. */
import type { BrokerContext } from '../main/container.js';
import { databaseUrl, dataDir } from './config.js';
import type { CliIo } from './io.js';

/** Where the data is: the flags every command that opens the store takes. */
export interface DataFlags {
  data?: string;
  database?: string;
  json?: boolean;
}

export async function withBrokerContext<T>(
  flags: DataFlags,
  io: CliIo,
  fn: (ctx: BrokerContext) => Promise<T>,
): Promise<T> {
  const database = databaseUrl(flags.database, io.env);
  // Loaded here, not at the top: commands that never touch the store stay fast to start.
  const { defaultCryptoConcurrency, openBrokerContext } = await import('../main/container.js');
  const ctx = await openBrokerContext({
    dataDir: dataDir(flags.data, io),
    ...(database ? { databaseUrl: database } : {}),
    publicUrl: io.env['PUBLIC_URL'] ?? 'http://127.0.0.1',
    crypto: { concurrency: defaultCryptoConcurrency(io.env) },
  });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

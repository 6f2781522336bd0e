/** Runs `fn` on the broker context of the data directory (or database) the flags name, then closes it. */
import type { BrokerContext } from '../broker/context.js';
import { databaseUrl, dataDir } from './config.js';

export async function withBrokerContext<T>(
  flags: { data?: string; database?: string },
  fn: (ctx: BrokerContext) => Promise<T>,
): Promise<T> {
  const database = databaseUrl(flags.database);
  // Loaded here, not at the top: commands that never touch the store stay fast to start.
  const { openBrokerContext } = await import('../broker/context.js');
  const ctx = await openBrokerContext({
    dataDir: dataDir(flags.data),
    ...(database ? { databaseUrl: database } : {}),
    publicUrl: process.env['PUBLIC_URL'] ?? 'http://127.0.0.1',
  });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/**
 * A server in a child process, for tests that must crash one (SIGKILL: nothing is closed, nothing
 * is flushed, exactly as a power cut or an OOM kill). Run with
 *   node --import tsx test/support/serve-child.ts '<JSON of ServeOptions without port/host/logger>'
 * It prints `listening <url>` on stdout once it accepts requests.
 */
import { type ServeOptions, startServer } from '../../src/main/serve.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Omit<ServeOptions, 'port' | 'host' | 'logger'>;
const server = await startServer({ ...options, port: 0, host: '127.0.0.1', logger: false });
process.stdout.write(`listening ${server.url}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});

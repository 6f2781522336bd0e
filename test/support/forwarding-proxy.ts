/**
 * A reverse proxy hop for tests, as nginx does with `proxy_add_x_forwarded_for`: it forwards
 * every request to `target` and appends the client's address to X-Forwarded-For. Every test client
 * is 127.0.0.1, so each proxy stands for one client and appends the address it is given.
 *
 *   const a = await startForwardingProxy(server.url, '203.0.113.7');
 *   await fetch(`${a.url}/visit/x`);   // the server sees X-Forwarded-For: 203.0.113.7 from 127.0.0.1
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForwardingProxy {
  url: string;
  close(): Promise<void>;
}

export async function startForwardingProxy(target: string, clientAddress: string): Promise<ForwardingProxy> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const prior = req.headers['x-forwarded-for'];
    const forwarded = prior ? `${[prior].flat().join(', ')}, ${clientAddress}` : clientAddress;
    const upstream = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: to.host, 'x-forwarded-for': forwarded },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A subscriber for the outbound events tests: node:http on 127.0.0.1 (or another loopback
 * address) that records every delivery and verifies it with the `standardwebhooks` package, the
 * specification's own library. Its answer can be changed (`status`), and it can go away and come
 * back on the same port (`stop`, `start`: connection refused meanwhile).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  raw: string;
  body: { type: string; timestamp: string; data: Record<string, any> };
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The answer to the next deliveries (default 204); `redirect` answers 307 to it. */
  status: number;
  redirect?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Throws unless `secret` verifies the delivery (Webhook.verify: signature and timestamp). */
  verify(r: Received, secret: string): void;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      data += c;
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

export async function startReceiver(host = '127.0.0.1', port = 0): Promise<Receiver> {
  let server: Server | undefined;
  const receiver: Receiver = {
    url: '',
    port,
    received: [],
    status: 204,
    async start() {
      server = createServer(async (req, res) => {
        const raw = await readBody(req);
        if (receiver.redirect) {
          res.writeHead(307, { location: receiver.redirect }).end();
          return;
        }
        const header = (name: string) => String(req.headers[name] ?? '');
        if (receiver.status >= 200 && receiver.status < 300)
          receiver.received.push({
            id: header('webhook-id'),
            timestamp: header('webhook-timestamp'),
            signature: header('webhook-signature'),
            raw,
            body: JSON.parse(raw),
          });
        res.writeHead(receiver.status).end();
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(receiver.port, host, () => resolve());
      });
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://${host}:${receiver.port}/hooks/visits`;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    verify(r, secret) {
      const payload = new Webhook(secret).verify(r.raw, {
        'webhook-id': r.id,
        'webhook-timestamp': r.timestamp,
        'webhook-signature': r.signature,
      });
      assert.deepEqual(payload, r.body);
    },
  };
  await receiver.start();
  return receiver;
}

/** The deliveries of one visit, in the order they arrived, as `type`s. */
export function typesOf(received: Received[], visitId: string): string[] {
  return received.filter((r) => r.body.data['visitId'] === visitId).map((r) => r.body.type);
}

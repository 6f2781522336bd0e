/**
 * A Twilio-shaped HTTP server on 127.0.0.1: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
 * as Twilio's Messages API takes it (HTTP Basic auth AccountSid:AuthToken, a form with `To`,
 * `From` or `MessagingServiceSid`, `Body`, `StatusCallback`), answering with Twilio's documented
 * JSON: 201 and the message resource (`sid`, `status` `queued`, or `accepted` with a messaging
 * service), or Twilio's error body `{code, message, more_info, status}` (20003 authenticate,
 * 21211 invalid To, 21602 body required, 21603 From required, 21610 unsubscribed recipient).
 * Failures can be queued (`failNext`: a 429 with Retry-After, a 503…). It can post status callbacks
 * and inbound messages signed as Twilio signs them (its own HMAC, written from Twilio's
 * documentation, not the code under test).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './free-port.js';
import type { TestServerOptions } from './server.js';

interface StubMessage {
  sid: string;
  accountSid: string;
  to: string;
  from?: string;
  messagingServiceSid?: string;
  body: string;
  statusCallback?: string;
  /** The form exactly as received. */
  form: Record<string, string>;
  contentType: string | undefined;
}

interface Failure {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface TwilioStub {
  url: string;
  accountSid: string;
  authToken: string;
  /** Messages accepted, in order. */
  messages: StubMessage[];
  /** Every request to the Messages endpoint, accepted or not. */
  requests: number;
  /** Numbers that replied STOP to the sender: sending to them is Twilio's 21610. */
  unsubscribed: Set<string>;
  /** Answers the next requests with these failures, in order. */
  failNext(...failures: Failure[]): void;
  /** Posts a status callback for a message to its StatusCallback, signed; answers the status. */
  sendStatus(sid: string, status: string, options?: { errorCode?: string; token?: string }): Promise<number>;
  /** Posts an inbound SMS (a reply) to `url`, signed as Twilio signs it; answers status and body. */
  sendInbound(
    url: string,
    from: string,
    body: string,
    options?: { token?: string; signedUrl?: string },
  ): Promise<{ status: number; body: string; contentType: string | null }>;
  close(): Promise<void>;
}

/** X-Twilio-Signature as Twilio documents it: the URL, each field's name and value sorted by name, HMAC-SHA1, base64. */
export function signAsTwilio(token: string, url: string, fields: Record<string, string>): string {
  const data = Object.keys(fields)
    .sort()
    .reduce((acc, key) => acc + key + fields[key], url);
  return createHmac('sha1', token).update(Buffer.from(data, 'utf-8')).digest('base64');
}

const hex = (n: number) => randomBytes(n).toString('hex');

function twilioError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTwilioStub(
  options: { accountSid?: string; authToken?: string } = {},
): Promise<TwilioStub> {
  const accountSid = options.accountSid ?? `AC${hex(16)}`;
  const authToken = options.authToken ?? hex(16);
  const messages: StubMessage[] = [];
  const failures: Failure[] = [];
  const unsubscribed = new Set<string>();
  let requests = 0;
  const path = `/2010-04-01/Accounts/${accountSid}/Messages.json`;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      if (req.method !== 'POST' || !req.url?.startsWith('/2010-04-01/Accounts/')) {
        return twilioError(res, 404, 20404, 'The requested resource was not found');
      }
      requests += 1;
      const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return twilioError(res, 401, 20003, 'Authenticate');
      if (req.url !== path) return twilioError(res, 404, 20404, 'The requested resource was not found');
      const failure = failures.shift();
      if (failure) {
        res.writeHead(failure.status, { 'content-type': 'application/json', ...failure.headers });
        return res.end(
          JSON.stringify(
            failure.body ?? {
              code: 20429,
              message: 'Too Many Requests',
              more_info: '',
              status: failure.status,
            },
          ),
        );
      }
      if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded'))
        return twilioError(res, 400, 20001, 'Content-Type must be application/x-www-form-urlencoded');
      const form = Object.fromEntries(new URLSearchParams(raw));
      const to = form['To'];
      if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
      if (!/^\+[1-9]\d{7,14}$/.test(to))
        return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
      if (!form['From'] && !form['MessagingServiceSid'])
        return twilioError(res, 400, 21603, "A 'From' phone number is required.");
      if (!form['Body']) return twilioError(res, 400, 21602, 'Message body is required.');
      if (unsubscribed.has(to))
        return twilioError(res, 400, 21610, 'Attempt to send to unsubscribed recipient');
      const sid = `SM${hex(16)}`;
      const message: StubMessage = {
        sid,
        accountSid,
        to,
        body: form['Body'],
        form,
        contentType: req.headers['content-type'],
        ...(form['From'] ? { from: form['From'] } : {}),
        ...(form['MessagingServiceSid'] ? { messagingServiceSid: form['MessagingServiceSid'] } : {}),
        ...(form['StatusCallback'] ? { statusCallback: form['StatusCallback'] } : {}),
      };
      messages.push(message);
      const now = new Date().toUTCString().replace('GMT', '+0000');
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          account_sid: accountSid,
          api_version: '2010-04-01',
          body: message.body,
          date_created: now,
          date_sent: null,
          date_updated: now,
          direction: 'outbound-api',
          error_code: null,
          error_message: null,
          from: message.from ?? null,
          messaging_service_sid: message.messagingServiceSid ?? null,
          num_media: '0',
          num_segments: '1',
          price: null,
          price_unit: 'USD',
          sid,
          status: message.messagingServiceSid ? 'accepted' : 'queued',
          subresource_uris: { media: `${path.replace('.json', '')}/${sid}/Media.json` },
          to,
          uri: `${path.replace('.json', '')}/${sid}.json`,
        }),
      );
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const post = async (target: string, fields: Record<string, string>, token: string, signedUrl = target) => {
    const response = await fetch(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signAsTwilio(token, signedUrl, fields),
        'user-agent': 'TwilioProxy/1.1',
      },
      body: new URLSearchParams(fields).toString(),
    });
    return {
      status: response.status,
      body: await response.text(),
      contentType: response.headers.get('content-type'),
    };
  };

  return {
    url,
    accountSid,
    authToken,
    messages,
    get requests() {
      return requests;
    },
    unsubscribed,
    failNext: (...list) => {
      failures.push(...list);
    },
    async sendStatus(sid, status, opts = {}) {
      const message = messages.find((m) => m.sid === sid);
      if (!message?.statusCallback) throw new Error(`no StatusCallback for ${sid}`);
      const fields: Record<string, string> = {
        AccountSid: accountSid,
        ApiVersion: '2010-04-01',
        From: message.from ?? '',
        MessageSid: sid,
        MessageStatus: status,
        SmsSid: sid,
        SmsStatus: status,
        To: message.to,
        ...(opts.errorCode ? { ErrorCode: opts.errorCode } : {}),
        ...(message.messagingServiceSid ? { MessagingServiceSid: message.messagingServiceSid } : {}),
      };
      return (await post(message.statusCallback, fields, opts.token ?? authToken)).status;
    },
    async sendInbound(target, from, body, opts = {}) {
      const sid = `SM${hex(16)}`;
      const fields = {
        AccountSid: accountSid,
        ApiVersion: '2010-04-01',
        Body: body,
        From: from,
        MessageSid: sid,
        NumMedia: '0',
        NumSegments: '1',
        SmsMessageSid: sid,
        SmsSid: sid,
        SmsStatus: 'received',
        To: '+15005550006',
      };
      return post(target, fields, opts.token ?? authToken, opts.signedUrl);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The options of a test server that sends SMS through `stub` with Twilio's API: PUBLIC_URL on the
 * server's own port (Twilio signs that URL, and calls it back) and real sockets. Add the suite's own.
 */
export async function twilioServerOptions(
  stub: TwilioStub,
): Promise<TestServerOptions & { port: number; publicUrl: string }> {
  const port = await freePort();
  return {
    port,
    publicUrl: `http://127.0.0.1:${port}`,
    sockets: true,
    sms: {
      provider: 'twilio',
      accountSid: stub.accountSid,
      authToken: stub.authToken,
      from: '+15005550006',
      apiUrl: stub.url,
    },
  };
}

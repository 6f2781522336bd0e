/**
 * A real SMTP server for the email tests: the `smtp-server` package on 127.0.0.1, with AUTH (a
 * user and a password), every accepted message parsed with `mailparser`. It can refuse some
 * recipients with 550, hold messages unanswered (`hold`: the client waits at DATA), and go away
 * and come back on the same port (`stop`, `start`: connection refused meanwhile).
 */
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { freePort } from './free-port.js';

export interface SmtpMessage {
  /** The envelope's recipients. */
  to: string[];
  mail: ParsedMail;
  raw: string;
}

export interface SmtpTestServer {
  port: number;
  user: string;
  password: string;
  /** smtp://user:password@127.0.0.1:port */
  url: string;
  messages: SmtpMessage[];
  /** Addresses answered `550 5.1.1 No such user`. */
  reject: Set<string>;
  /** While true, a message's DATA gets no answer (the client waits); `held` counts them. */
  hold: boolean;
  held: number;
  /** Authentications tried with a wrong password. */
  badLogins: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSmtpServer(): Promise<SmtpTestServer> {
  const port = await freePort();
  let server: SMTPServer | undefined;
  const handle: SmtpTestServer = {
    port,
    user: 'notices',
    password: 'smtp-secret-Pa55word',
    url: '',
    messages: [],
    reject: new Set(),
    hold: false,
    held: 0,
    badLogins: 0,
    async start() {
      server = new SMTPServer({
        disabledCommands: ['STARTTLS'],
        allowInsecureAuth: true,
        logger: false,
        onAuth(auth, _session, callback) {
          if (auth.username === handle.user && auth.password === handle.password)
            return callback(null, { user: auth.username });
          handle.badLogins += 1;
          return callback(new Error('Invalid username or password'));
        },
        onRcptTo(address: SMTPServerAddress, _session, callback) {
          if (handle.reject.has(address.address)) {
            const err = new Error('5.1.1 No such user') as Error & { responseCode: number };
            err.responseCode = 550;
            return callback(err);
          }
          return callback();
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', async () => {
            if (handle.hold) {
              handle.held += 1;
              return; // never answered: the client waits until its socket closes
            }
            const raw = Buffer.concat(chunks).toString('utf8');
            const mail = await simpleParser(raw);
            handle.messages.push({ to: session.envelope.rcptTo.map((r) => r.address), mail, raw });
            callback(null, 'Message queued as test');
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  handle.url = `smtp://${handle.user}:${handle.password}@127.0.0.1:${port}`;
  await handle.start();
  return handle;
}

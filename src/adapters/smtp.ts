/**
 * The email channel: Nodemailer over SMTP_URL (smtp://, upgraded with STARTTLS when the server
 * offers it, or smtps://). A message is a plain-text and an HTML part, and the invitation as a
 * `text/calendar; method=…` alternative (what mail clients show as an invitation).
 *
 * Failures become ChannelError: a 5xx reply (the address refused, the message rejected) is
 * permanent; a refused connection, a timeout or a 4xx reply is worth another attempt. No message
 * holds the URL or its password.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Channel, ChannelResult, OutboundMessage } from '../domain/channels.js';
import { ChannelError } from '../errors.js';

export interface SmtpChannelOptions {
  /** SMTP_URL (a secret). */
  url: string;
  from: { name: string; address: string };
  /** Milliseconds to connect, and for each reply (default 10 s and 30 s). */
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

export class SmtpChannel implements Channel {
  readonly name = 'email' as const;
  readonly #transport: Transporter;
  readonly #from: SmtpChannelOptions['from'];
  readonly #secrets: string[];

  constructor(options: SmtpChannelOptions) {
    const url = new URL(options.url);
    this.#secrets = [options.url, decodeURIComponent(url.password), url.password].filter((s) => s.length > 0);
    this.#from = options.from;
    this.#transport = nodemailer.createTransport({
      host: url.hostname,
      port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587),
      secure: url.protocol === 'smtps:',
      ...(url.username
        ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
        : {}),
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      greetingTimeout: options.connectionTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 30_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(message: OutboundMessage, signal?: AbortSignal): Promise<ChannelResult> {
    signal?.throwIfAborted();
    const method = message.ics ? /^METHOD:(\w+)/m.exec(message.ics)?.[1] : undefined;
    try {
      const info = await this.#transport.sendMail({
        from: { name: this.#from.name, address: this.#from.address },
        to: message.to,
        subject: message.subject ?? '',
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
        ...(message.ics ? { icalEvent: { method: method ?? 'REQUEST', content: message.ics } } : {}),
      });
      const id = typeof info.messageId === 'string' ? info.messageId : undefined;
      return { ...(id ? { providerId: id } : {}), status: 'sent' };
    } catch (err) {
      throw this.#channelError(err as SmtpFailure);
    }
  }

  #channelError(err: SmtpFailure): ChannelError {
    const reply = err.responseCode;
    // A refused login is the server's configuration, not the message: worth another attempt.
    const permanent = reply !== undefined && reply >= 500 && reply < 600 && err.code !== 'EAUTH';
    let text = err.response ?? err.message ?? 'unknown failure';
    for (const secret of this.#secrets) text = text.split(secret).join('***');
    const what = reply !== undefined ? `SMTP ${reply}` : `SMTP ${err.code ?? 'error'}`;
    return new ChannelError(`${what}: ${text}`.slice(0, 500), { permanent });
  }

  close(): void {
    this.#transport.close();
  }
}

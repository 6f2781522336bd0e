/**
 * Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
 * encoded `To`, `From` or `MessagingServiceSid`, `Body` and `StatusCallback`, with HTTP Basic auth
 * (AccountSid:AuthToken). It answers 201 with the message resource (`sid`, `status`: `queued`, or
 * `accepted` with a messaging service). Errors carry Twilio's `code` and `message`: 429 (too many
 * requests) and 5xx may be retried; a 400 such as 21211 (an invalid `To`) or 21610 (the recipient
 * replied STOP) is permanent.
 */
import type { Channel, ChannelResult, OutboundMessage } from '../../domain/channels.js';
import { ChannelError } from '../../errors.js';
import { type Fetch, providerRequest } from './request.js';

export const TWILIO_API_URL = 'https://api.twilio.com';

/** Twilio error codes that name the recipient: sending again to it cannot help. */
const TWILIO_PERMANENT_CODES: Readonly<Record<number, string>> = {
  21211: 'invalid To number',
  21408: 'region not enabled for the account',
  21610: 'the recipient replied STOP',
  21612: 'the recipient cannot be reached from this sender',
  21614: 'the To number is not a mobile number',
  21617: 'the body is too long',
};

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** The sender: a number (E.164) or alphanumeric id, or a messaging service (`MG…`). */
  from?: string;
  messagingServiceSid?: string;
  /** Twilio's API origin (default https://api.twilio.com; tests point it at a stub). */
  apiUrl?: string;
  /** Where Twilio posts status callbacks (PUBLIC_URL/hooks/sms/twilio/status), when public. */
  statusCallback?: string;
  fetch?: Fetch;
  timeoutMs?: number;
  /**
   * Called when Twilio refuses a number with 21610: it replied STOP to the sender (perhaps while
   * the inbound webhook was not set up), so it is recorded as opted out here too.
   */
  onOptedOut?: (phone: string) => Promise<void>;
}

export class TwilioSms implements Channel {
  readonly name = 'sms' as const;
  readonly provider = 'twilio';
  readonly #options: TwilioOptions;
  readonly #url: string;
  readonly #auth: string;

  constructor(options: TwilioOptions) {
    if (!options.from && !options.messagingServiceSid)
      throw new ChannelError('Twilio needs a sender: TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID', {
        permanent: true,
      });
    this.#options = options;
    const base = (options.apiUrl ?? TWILIO_API_URL).replace(/\/+$/, '');
    this.#url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
    this.#auth = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  }

  toString(): string {
    return `TwilioSms(${this.#url})`;
  }

  toJSON(): Record<string, unknown> {
    return { provider: this.provider, url: this.#url };
  }

  async send(message: OutboundMessage, signal?: AbortSignal): Promise<ChannelResult> {
    const form = new URLSearchParams({ To: message.to, Body: message.text });
    if (this.#options.messagingServiceSid) form.set('MessagingServiceSid', this.#options.messagingServiceSid);
    else form.set('From', this.#options.from as string);
    if (this.#options.statusCallback) form.set('StatusCallback', this.#options.statusCallback);
    let code: number | undefined;
    const answer = await providerRequest({
      label: 'Twilio',
      fetch: this.#options.fetch ?? fetch,
      url: this.#url,
      headers: {
        authorization: this.#auth,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      timeoutMs: this.#options.timeoutMs ?? 15_000,
      ...(signal ? { signal } : {}),
      secrets: [this.#options.authToken, this.#auth.slice(6)],
      describe: (json) => {
        code = typeof json['code'] === 'number' ? json['code'] : undefined;
        const words = typeof json['message'] === 'string' ? json['message'] : undefined;
        if (code === undefined && words === undefined) return undefined;
        return {
          detail:
            `${code !== undefined ? `${code} ` : ''}${words ?? TWILIO_PERMANENT_CODES[code as number] ?? ''}`.trim(),
          // Any other 4xx is permanent too (the request itself is wrong); the codes above name why.
          permanent: true,
        };
      },
    }).catch(async (err: unknown) => {
      if (code === 21610 && this.#options.onOptedOut) await this.#options.onOptedOut(message.to);
      throw err;
    });
    const sid = answer.json?.['sid'];
    if (typeof sid !== 'string' || !sid)
      throw new ChannelError('Twilio answered without a message sid', { permanent: false });
    const status = answer.json?.['status'];
    return { providerId: sid, status: status === 'sent' || status === 'delivered' ? 'sent' : 'queued' };
  }
}

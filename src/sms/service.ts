/**
 * SMS around a provider: the channel that refuses numbers that opted out and records what the
 * provider accepted, and the two webhooks Twilio calls, each checked with X-Twilio-Signature:
 * status callbacks (`MessageSid`, `MessageStatus`, `ErrorCode`) move a message's stored status
 * forward; inbound messages with an opt-out keyword (STOP…) record an opt-out, with an opt-in
 * keyword (START…) remove it. Twilio itself also refuses to send to a number that replied STOP to
 * the sender (error 21610); recording it here refuses sooner and says why in the delivery records.
 */
import Type from 'typebox';
import type { Channel, ChannelResult, OutboundMessage } from '../domain/channels.js';
import { normalizePhone, optKeyword } from '../domain/sms.js';
import { nowSeconds } from '../domain/time.js';
import { ChannelError, InstantConnectError, NotFoundError, ValidationError } from '../errors.js';
import type { SmsStatus, Store } from '../store/types.js';
import { verifyTwilioSignature } from './signature.js';

/** How far along each status is: a callback never moves a message back. */
const SMS_STATUS_RANK: Readonly<Record<SmsStatus, number>> = {
  accepted: 0,
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  undelivered: 3,
  failed: 3,
  canceled: 3,
  read: 4,
};

/** A status callback as Twilio posts it (form encoded; Twilio adds more fields, all signed). */
export const TwilioStatusForm = Type.Object(
  {
    MessageSid: Type.String({ description: 'The message (`SM…`), as the send answered its `sid`.' }),
    MessageStatus: Type.Union(
      Object.keys(SMS_STATUS_RANK).map((s) => Type.Literal(s)),
      { description: 'Its status now; a status never moves a message back (callbacks come out of order).' },
    ),
    ErrorCode: Type.Optional(
      Type.String({ description: "Twilio's error code of an undelivered or failed message." }),
    ),
    AccountSid: Type.Optional(Type.String()),
    To: Type.Optional(Type.String()),
  },
  { $id: 'TwilioStatusCallback', additionalProperties: true },
);

/** An SMS sent to the server's number, as Twilio posts it. */
export const TwilioInboundForm = Type.Object(
  {
    From: Type.String({ description: 'The sender, E.164.' }),
    Body: Type.String({
      description:
        'The text: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT opt the number out; START, UNSTOP or YES opt it in again (any case, whole message).',
    }),
    MessageSid: Type.Optional(Type.String()),
    To: Type.Optional(Type.String()),
  },
  { $id: 'TwilioInboundMessage', additionalProperties: true },
);

/** The empty TwiML answer: no reply is sent (Twilio's own STOP/START replies still go out). */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

/** A phone number for logs and errors: its country code and last two digits. */
function maskPhone(phone: string): string {
  return phone.length <= 6 ? '+…' : `${phone.slice(0, 3)}…${phone.slice(-2)}`;
}

export interface SmsServiceOptions {
  store: Store;
  /** The provider that sends (Twilio's Messages API, a generic HTTP provider). */
  provider: Channel & { readonly provider: string };
  /** Twilio's auth token, which signs its webhooks (absent: the Twilio webhooks are off). */
  twilioAuthToken?: string;
  /** The public origin Twilio calls (PUBLIC_URL): the signed URL is it plus the request's path. */
  publicUrl?: () => string;
  now?: () => number;
}

/** What a Twilio webhook request carries for the service. */
export interface TwilioWebhookRequest {
  /** The raw form body. */
  rawBody: Buffer;
  /** The path and query string Twilio called (`/hooks/sms/twilio/status?x=1`). */
  url: string;
  signature: string | undefined;
}

export class SmsService {
  readonly #store: Store;
  readonly #provider: Channel & { readonly provider: string };
  readonly #token: string | undefined;
  readonly #publicUrl: (() => string) | undefined;
  readonly #now: () => number;
  /** The channel notices send SMS through: opt-outs refused, accepted messages recorded. */
  readonly channel: Channel;

  constructor(options: SmsServiceOptions) {
    this.#store = options.store;
    this.#provider = options.provider;
    this.#token = options.twilioAuthToken;
    this.#publicUrl = options.publicUrl;
    this.#now = options.now ?? nowSeconds;
    this.channel = { name: 'sms', send: (message, signal) => this.#send(message, signal) };
  }

  /** The provider's name (`twilio`, `http`). */
  get provider(): string {
    return this.#provider.provider;
  }

  async #send(message: OutboundMessage, signal?: AbortSignal): Promise<ChannelResult> {
    const phone = normalizePhone(message.to);
    if (!phone) throw new ChannelError('The recipient is not an E.164 phone number', { permanent: true });
    const optOut = await this.#store.getSmsOptOut(phone);
    if (optOut) {
      throw new ChannelError(
        `${maskPhone(phone)} opted out of SMS (replied ${optOut.keyword}); it must reply START to receive SMS again`,
        { permanent: true },
      );
    }
    const result = await this.#provider.send({ ...message, to: phone }, signal);
    if (result.providerId) {
      const at = this.#now();
      await this.#store.saveSmsMessage({
        providerId: result.providerId,
        provider: this.#provider.provider,
        phone,
        status: result.status,
        createdAt: at,
        updatedAt: at,
      });
    }
    return result;
  }

  /** Checks a Twilio webhook's signature and answers its form (404 when the Twilio webhooks are off). */
  #verified(request: TwilioWebhookRequest): URLSearchParams {
    if (!this.#token || this.#provider.provider !== 'twilio')
      throw new NotFoundError('Twilio SMS is not configured on this server (set SMS_PROVIDER=twilio)');
    if (!this.#publicUrl)
      throw new NotFoundError("Twilio's webhooks need PUBLIC_URL, the address Twilio signs");
    const params = new URLSearchParams(request.rawBody.toString('utf8'));
    const url = `${this.#publicUrl().replace(/\/+$/, '')}${request.url}`;
    if (!verifyTwilioSignature(this.#token, url, params, request.signature)) {
      throw new InstantConnectError(
        'ERR_UNAUTHORIZED',
        `X-Twilio-Signature is missing or does not match ${url} and the form (signed with TWILIO_AUTH_TOKEN)`,
      );
    }
    return params;
  }

  /** A status callback: the message's stored status moves forward (an unknown message is ignored). */
  async receiveStatus(request: TwilioWebhookRequest): Promise<{ status?: SmsStatus }> {
    const params = this.#verified(request);
    const providerId = params.get('MessageSid') ?? params.get('SmsSid');
    if (!providerId)
      throw new ValidationError([
        { path: 'MessageSid', rule: 'required', message: 'MessageSid is required' },
      ]);
    const status = (params.get('MessageStatus') ?? params.get('SmsStatus')) as SmsStatus | null;
    if (!status || !Object.hasOwn(SMS_STATUS_RANK, status)) {
      throw new ValidationError([
        {
          path: 'MessageStatus',
          rule: 'enum',
          message: `MessageStatus must be one of ${Object.keys(SMS_STATUS_RANK).join(', ')}`,
        },
      ]);
    }
    const errorCode = params.get('ErrorCode') || undefined;
    const stored = await this.#store.updateSmsStatus({
      providerId,
      status,
      rank: SMS_STATUS_RANK[status],
      at: this.#now(),
      ...(errorCode ? { errorCode } : {}),
    });
    return stored ? { status: stored.status } : {};
  }

  /**
   * The provider refused a number because it opted out with the provider itself (Twilio's 21610:
   * it replied STOP while our inbound webhook was not set up): recorded, so later sends are
   * refused here first.
   */
  async providerOptedOut(phone: string): Promise<void> {
    if (!(await this.#store.getSmsOptOut(phone)))
      await this.#store.recordSmsOptOut({ phone, keyword: 'STOP', at: this.#now() });
  }

  /** An inbound SMS: STOP and its kin record an opt-out, START and its kin remove it. */
  async receiveInbound(request: TwilioWebhookRequest): Promise<{ action?: 'out' | 'in' }> {
    const params = this.#verified(request);
    const phone = normalizePhone(params.get('From') ?? '');
    if (!phone)
      throw new ValidationError([{ path: 'From', rule: 'format', message: 'From must be an E.164 number' }]);
    const keyword = optKeyword(params.get('Body') ?? '');
    if (!keyword) return {};
    if (keyword.action === 'out')
      await this.#store.recordSmsOptOut({ phone, keyword: keyword.keyword, at: this.#now() });
    else await this.#store.removeSmsOptOut(phone);
    return { action: keyword.action };
  }
}

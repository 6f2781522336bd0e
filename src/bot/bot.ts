/**
 * The Webex bot. POST /hooks/webex is verified (X-Spark-Signature over the raw body), deduplicated
 * (Webex retries), stored as a job and answered 200 at once; the job reads the message, acts and
 * queues its replies as `deliver` jobs (each retried on its own), so a restart loses nothing, a
 * failed reply never repeats the command, and Webex never sees a slow or failing webhook.
 * Guest links go to the space; the host link only ever goes 1:1 to the person who asked.
 * Only the people the administrator allows (BotAccess: email domains, Webex organisations, as
 * Webex's API describes the person) get anything but a refusal, each within a number of visits
 * an hour, and every word of theirs in a reply is escaped markdown.
 */

import { createHash } from 'node:crypto';
import Type from 'typebox';
import { isTimeZone } from '../domain/local-time.js';
import { escapeMarkdown } from '../domain/markdown.js';
import { nowSeconds } from '../domain/time.js';
import type { VisitInput } from '../domain/visit-input.js';
import { UNFINISHED_STATES } from '../domain/visit-state.js';
import type { Message, MessageTarget, Person, WebexApi } from '../domain/webex.js';
import { InstantConnectError, RateLimitedError, UnauthorizedError, ValidationError } from '../errors.js';
import { verifySparkSignature } from '../hooks/signatures.js';
import type { JobHandler, JobRunner } from '../jobs/runner.js';
import { PermanentJobError } from '../jobs/runner.js';
import type { Org, Store } from '../store/types.js';
import { guestMessage, hostMessage } from '../visits/messages.js';
import type { VisitService, VisitView } from '../visits/service.js';
import { BotAccess, type BotAccessOptions, CLOSED_REPLY, REFUSED_REPLY } from './access.js';
import { type Command, HELP, parseCommand } from './commands.js';

export const WEBHOOK_SECRET_SETTING = 'webex.webhookSecret';
const DEFAULT_MINUTES = 30;

export interface BotOptions {
  store: Store;
  visits: VisitService;
  runner: JobRunner;
  webex: WebexApi;
  /** The org visits are made in. */
  org: () => Promise<Org>;
  /** WEBEX_WEBHOOK_SECRET, else the secret `webhook register` stored. */
  secret?: string;
  /** Zone for people who set none. */
  timeZone?: string;
  /** Who may use the bot (BOT_ALLOWED_DOMAINS, BOT_ALLOWED_ORGS); without any, the bot is closed. */
  access?: BotAccessOptions;
  /** The issuing limits of the bot's visits (see `useLimits`). */
  limits?: BotLimits;
  now?: () => number;
}

/** The issuing limits a bot visit goes through (the server's Limits.bot); throws RateLimitedError. */
export interface BotLimits {
  bot(personId: string): Promise<void>;
}

/** What Webex POSTs to /hooks/webex: the fields the bot reads (Webex sends more; they are ignored). */
export const WebexDeliverySchema = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'The webhook id.' })),
    resource: Type.Optional(
      Type.String({ description: '`messages` or `attachmentActions`; others are ignored.' }),
    ),
    event: Type.Optional(Type.String({ description: '`created`; others are ignored.' })),
    actorId: Type.Optional(Type.String()),
    data: Type.Object({
      id: Type.String({ minLength: 1, description: 'The message or card action to read.' }),
      roomId: Type.Optional(Type.String()),
      personId: Type.Optional(Type.String()),
      personEmail: Type.Optional(Type.String()),
      roomType: Type.Optional(Type.String()),
    }),
  },
  { $id: 'WebexDelivery' },
);
type Delivery = Partial<Type.Static<typeof WebexDeliverySchema>>;

/** The answer to Webex: always quick, the work is queued. */
export const WebhookReceiptSchema = Type.Object(
  {
    accepted: Type.Boolean({ description: 'False for deliveries the bot ignores, and for duplicates.' }),
    reason: Type.String({ description: '`queued`, `duplicate delivery` or `ignored: …`.' }),
  },
  { $id: 'WebhookReceipt' },
);
export type WebhookReceipt = Type.Static<typeof WebhookReceiptSchema>;

export class BotService {
  readonly #o: BotOptions;
  #botId: string | undefined;
  readonly #now: () => number;
  readonly access: BotAccess;
  #limits: BotLimits | undefined;

  constructor(options: BotOptions) {
    this.#o = options;
    this.#now = options.now ?? nowSeconds;
    this.access = new BotAccess(options.access);
    this.#limits = options.limits;
  }

  /** The server's issuing limits (set by `startServer` before the job runner starts). */
  useLimits(limits: BotLimits): void {
    this.#limits = limits;
  }

  async #secret(): Promise<string | undefined> {
    return this.#o.secret ?? (await this.#o.store.getSetting(WEBHOOK_SECRET_SETTING));
  }

  async botId(): Promise<string> {
    this.#botId ??= (await this.#o.webex.me()).id;
    return this.#botId;
  }

  /** Checks, deduplicates and stores a delivery; returns what was done (always fast). */
  async receive(rawBody: Buffer, signature: string | undefined): Promise<WebhookReceipt> {
    const secret = await this.#secret();
    if (!secret)
      throw new UnauthorizedError(
        'No webhook secret is configured (WEBEX_WEBHOOK_SECRET or `webhook register`)',
      );
    if (!verifySparkSignature(secret, rawBody, signature)) {
      throw new UnauthorizedError(
        signature ? 'X-Spark-Signature does not match the body' : 'X-Spark-Signature is missing',
      );
    }
    let delivery: Delivery;
    try {
      delivery = JSON.parse(rawBody.toString('utf8')) as Delivery;
    } catch {
      throw new InstantConnectError('ERR_BAD_JSON', 'The body is not valid JSON');
    }
    // `null` is JSON too: check the shape before reading a field of it.
    const data = typeof delivery === 'object' && delivery !== null ? delivery.data : undefined;
    if (!data?.id || typeof data.id !== 'string') {
      throw new ValidationError([{ path: 'data.id', rule: 'required', message: 'data.id is required' }]);
    }
    const kind =
      delivery.resource === 'messages' && delivery.event === 'created'
        ? 'bot.message'
        : delivery.resource === 'attachmentActions' && delivery.event === 'created'
          ? 'bot.card'
          : undefined;
    if (!kind) return { accepted: false, reason: `ignored: ${delivery.resource}/${delivery.event}` };
    // The bot's own messages come back as deliveries too.
    const own = this.#botId ?? (await this.botId().catch(() => undefined));
    if (own && data.personId === own) return { accepted: false, reason: 'ignored: the bot itself' };
    // The job and its dedup key are stored together: a crash cannot lose a message or run it twice.
    const id = await this.#o.runner.enqueue(
      kind,
      { id: data.id, roomId: data.roomId ?? null, personId: data.personId ?? null },
      { dedupKey: `webex:${kind}:${data.id}` },
    );
    return id === undefined
      ? { accepted: false, reason: 'duplicate delivery' }
      : { accepted: true, reason: 'queued' };
  }

  handlers(): Record<string, JobHandler> {
    return {
      'bot.message': (payload) => this.#onMessage(String(payload['id'])),
      'bot.card': (payload) => this.#onCard(String(payload['id'])),
    };
  }

  async #onMessage(messageId: string): Promise<void> {
    const webex = this.#o.webex;
    const botId = await this.botId();
    const message = await webex.getMessage(messageId);
    if (message.personId === botId) return;
    const group = message.roomType === 'group';
    // In a group space the bot answers only when mentioned.
    if (group && !(message.mentionedPeople ?? []).includes(botId)) return;
    const command = parseCommand(commandText(message, group));
    await this.#act(command, message);
  }

  async #onCard(actionId: string): Promise<void> {
    const action = await this.#o.webex.getAttachmentAction(actionId);
    const inputs = action.inputs ?? {};
    const guests = Number(inputs['guests'] ?? 1);
    const command: Command = {
      kind: 'visit',
      hosts: 1,
      guests: Number.isInteger(guests) && guests >= 0 && guests <= 50 ? guests : 1,
      ...(typeof inputs['subject'] === 'string' && inputs['subject'].trim()
        ? { subject: inputs['subject'].trim() }
        : {}),
      ...(typeof inputs['start'] === 'string' && inputs['start'] ? { start: inputs['start'] } : {}),
      ...(typeof inputs['duration'] === 'string' && inputs['duration']
        ? { duration: inputs['duration'] }
        : {}),
    };
    await this.#act(command, {
      id: action.id,
      roomId: action.roomId,
      personId: action.personId,
      roomType: 'direct',
    });
  }

  /** The person as Webex's API describes them (undefined: Webex knows nobody by that id). */
  async #person(personId: string): Promise<Person | undefined> {
    try {
      return await this.#o.webex.getPerson(personId);
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  async #zone(personId: string): Promise<string> {
    return (await this.#o.store.getSetting(`bot.tz.${personId}`)) ?? this.#o.timeZone ?? 'UTC';
  }

  async #act(
    command: Command,
    message: Pick<Message, 'id' | 'roomId' | 'personId' | 'roomType'>,
  ): Promise<void> {
    // Replies go out as `deliver` jobs of their own: a reply Webex refuses for a while is retried
    // alone, never by running the command again (a second visit, a second host link).
    // Each reply has a key of its own (message id and place): if this job runs again after a
    // crash, replies already queued are not queued twice.
    let replies = 0;
    const reply = (target: MessageTarget, markdown: string, card?: Record<string, unknown>) =>
      this.#o.runner.enqueue(
        'deliver',
        { target, markdown, ...(card ? { card } : {}) },
        { dedupKey: `reply:${message.id}:${replies++}` },
      );
    const room = { roomId: message.roomId };
    const requester = { toPersonId: message.personId };
    // Who is asking, from Webex's API (never the message's words): a stranger gets one refusal.
    const decision = this.access.closed
      ? this.access.check(undefined)
      : this.access.check(await this.#person(message.personId));
    if (!decision.allowed) {
      await reply(room, decision.reason === 'closed' ? CLOSED_REPLY : REFUSED_REPLY);
      return;
    }
    const org = await this.#o.org();
    const actor = `bot:${message.personId}`;
    switch (command.kind) {
      case 'help':
      case 'unknown': {
        const prefix =
          command.kind === 'unknown'
            ? `I did not understand "${escapeMarkdown(command.text.slice(0, 80))}".\n\n`
            : '';
        await reply(room, `${prefix}${HELP}`, message.roomType === 'group' ? undefined : NEW_VISIT_CARD);
        return;
      }
      case 'timezone': {
        if (!command.zone) {
          await reply(
            room,
            `Your times are read in **${escapeMarkdown(await this.#zone(message.personId))}**.`,
          );
          return;
        }
        if (!isTimeZone(command.zone)) {
          await reply(
            room,
            `"${escapeMarkdown(command.zone.slice(0, 80))}" is not a time zone I know. Try Europe/London or America/New\\_York.`,
          );
          return;
        }
        await this.#o.store.setSetting(`bot.tz.${message.personId}`, command.zone);
        await reply(room, `Your times are now read in **${escapeMarkdown(command.zone)}**.`);
        return;
      }
      case 'visits': {
        const upcoming = await this.#upcoming(org, actor);
        const lines = upcoming.map(
          (v) =>
            `- \`${v.id}\` **${escapeMarkdown(v.subject)}**: ${v.state === 'waiting' ? '**a guest is waiting**' : v.state}, ${v.start} to ${v.end} (UTC), ${v.counts.guests} guest(s)`,
        );
        await reply(
          room,
          lines.length > 0 ? `Your upcoming visits:\n\n${lines.join('\n')}` : 'You have no upcoming visits.',
        );
        return;
      }
      case 'cancel': {
        const mine = await this.#upcoming(org, actor);
        const target = command.target.toLowerCase();
        const visit =
          mine.find((v) => v.id.toLowerCase() === target) ??
          mine.find((v) => v.subject.toLowerCase() === target);
        if (!visit) {
          await reply(
            room,
            `I found no upcoming visit of yours called "${escapeMarkdown(command.target.slice(0, 200))}". Say \`visits\` to list them.`,
          );
          return;
        }
        await this.#o.visits.cancel(org, actor, visit.id);
        await reply(
          room,
          `Cancelled **${escapeMarkdown(visit.subject)}** (\`${visit.id}\`). Its links no longer work.`,
        );
        return;
      }
      case 'visit': {
        const input: VisitInput = {
          hosts: command.hosts,
          guests: command.guests,
          ttl: command.duration ?? `${DEFAULT_MINUTES}m`,
          timeZone: await this.#zone(message.personId),
        };
        if (command.subject) input.subject = command.subject;
        if (command.start) input.start = command.start;
        let visit: VisitView;
        const id = visitIdFor(message.id);
        try {
          // The issuing limits, as for the API: a re-run of a job whose visit exists is not counted.
          if (!(await this.#o.store.getVisit(org.id, id))) await this.#limits?.bot(message.personId);
          // One message, one visit: its id comes from the message, so a re-run finds it.
          // The requester hears from the bot when a guest waits and no host has come.
          visit = await this.#o.visits.create(org, actor, input, {
            id,
            alertTo: { personId: message.personId },
          });
        } catch (err) {
          if (err instanceof ValidationError) {
            await reply(
              room,
              `I could not make that visit: ${escapeMarkdown(err.issues.map((i) => i.message).join('; '))}`,
            );
            return;
          }
          if (err instanceof RateLimitedError) {
            await reply(room, `I made no visit. ${escapeMarkdown(err.message)}.`);
            return;
          }
          throw err;
        }
        // Host link: only to the requester, 1:1. Guest links: to the space.
        await reply(requester, hostMessage(visit));
        if (visit.guests.length > 0) await reply(room, guestMessage(visit));
        return;
      }
    }
  }

  async #upcoming(org: Org, actor: string): Promise<VisitView[]> {
    const lists = await Promise.all(
      UNFINISHED_STATES.map((state) => this.#o.visits.list(org, { state, limit: 100, offset: 0 })),
    );
    return lists.flatMap((l) => l.items).filter((v) => v.createdBy === actor);
  }

  /** The `deliver` job: a bot reply, or a message the trigger could not send at once. */
  deliverHandler(): JobHandler {
    return async (payload) => {
      const target = payload['target'] as Parameters<WebexApi['sendMessage']>[0];
      const markdown = payload['markdown'];
      const card = payload['card'];
      if (!target || typeof markdown !== 'string')
        throw new PermanentJobError('deliver job without target or message');
      await this.#o.webex.sendMessage(
        target,
        markdown,
        typeof card === 'object' && card !== null ? (card as Record<string, unknown>) : undefined,
      );
      if (typeof payload['orgId'] === 'string' && typeof payload['visitId'] === 'string') {
        await this.#o.store.appendEvent({
          orgId: payload['orgId'],
          visitId: payload['visitId'],
          at: this.#now(),
          actor: 'system',
          type: 'delivery.sent',
          data: { to: payload['to'], retried: true },
        });
      }
    };
  }
}

export function visitIdFor(messageId: string): string {
  return `vis_${createHash('sha256').update(`webex-message:${messageId}`).digest('base64url').slice(0, 16)}`;
}

/** The message's text without the mention of the bot (group spaces start with it). */
function commandText(message: Pick<Message, 'text' | 'html'>, group: boolean): string {
  if (group && message.html) {
    const withoutMentions = message.html
      .replace(/<spark-mention[^>]*>.*?<\/spark-mention>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
    return withoutMentions.trim();
  }
  const text = message.text ?? '';
  // Without html, a group message starts with the bot's display name: drop the first word.
  return group ? text.replace(/^\s*\S+\s*/, '') : text;
}

/** A small "new visit" form (Adaptive Card); its submissions arrive as attachmentActions. */
const NEW_VISIT_CARD: Record<string, unknown> = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.3',
  body: [
    { type: 'TextBlock', text: 'New visit', weight: 'Bolder', size: 'Medium' },
    {
      type: 'Input.Text',
      id: 'subject',
      label: 'Subject (optional)',
      placeholder: 'A unique one is made for you',
    },
    { type: 'Input.Number', id: 'guests', label: 'Guests', value: 1, min: 0, max: 50 },
    { type: 'Input.Time', id: 'start', label: 'Start (empty: now)' },
    {
      type: 'Input.ChoiceSet',
      id: 'duration',
      label: 'Length',
      value: '30m',
      choices: [
        { title: '15 minutes', value: '15m' },
        { title: '30 minutes', value: '30m' },
        { title: '45 minutes', value: '45m' },
        { title: '1 hour', value: '1h' },
      ],
    },
  ],
  actions: [{ type: 'Action.Submit', title: 'Make the visit' }],
};

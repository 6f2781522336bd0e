/**
 * POST /hooks/visits for workflow engines (Webex Connect's HTTP node, EHR schedulers…): a visit
 * from one request, with flat fields a no-code flow can pick (`hostUrl`, `guestUrl`, `guestUrls`),
 * an Idempotency-Key so a retrying caller never makes a second meeting, and optional delivery of
 * the links by the bot. A delivery failure is reported and retried in the background; it never
 * loses the visit.
 */
import { createHash, randomBytes } from 'node:crypto';
import Type from 'typebox';
import { IDEMPOTENCY_KEY_TTL_SECONDS, IDEMPOTENCY_LEASE_SECONDS } from '../domain/constants.js';
import { nowSeconds } from '../domain/time.js';
import { schemaIssues } from '../domain/validate.js';
import { VisitInput } from '../domain/visit-input.js';
import type { MessageTarget, WebexApi } from '../domain/webex.js';
import { ConflictError, HttpError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import type { JobRunner } from '../jobs/runner.js';
import type { HookRecord, IdempotencyReservation, Org, Store } from '../store/types.js';
import { guestMessage, hostMessage } from '../visits/messages.js';
import { handedUrl, type VisitService, type VisitView, VisitViewSchema } from '../visits/service.js';
import { TRIGGER_HEADERS, verifyTriggerSignature } from './signatures.js';

const Email = Type.String({
  format: 'email',
  pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
  maxLength: 254,
  'x-rule': 'an email address',
});
export const Notify = Type.Object(
  {
    host: Type.Optional(Email),
    guests: Type.Optional(
      Type.Object(
        {
          roomId: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
          toPersonEmail: Type.Optional(Email),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export const TriggerInput = Type.Object(
  { ...VisitInput.properties, notify: Type.Optional(Notify) },
  { additionalProperties: false, $id: 'TriggerInput' },
);

const DeliverySchema = Type.Object(
  {
    to: Type.Enum(['host', 'guests']),
    target: Type.String({ description: 'The email address or room the links went to.' }),
    status: Type.Enum(['sent', 'queued', 'failed'], {
      description: '`queued`: Webex failed for now and the message is retried in the background.',
    }),
    error: Type.Optional(Type.String()),
  },
  { $id: 'Delivery' },
);
export type Delivery = Type.Static<typeof DeliverySchema>;

/** The answer of POST /hooks/visits: the visit plus flat fields for no-code flows. */
export const TriggerResultSchema = Type.Object(
  {
    ...VisitViewSchema.properties,
    hostUrl: Type.Optional(
      Type.String({
        format: 'uri',
        description:
          'The first host link: its gateway URL when the visit has a gateway, else short when asked.',
      }),
    ),
    guestUrl: Type.Optional(
      Type.String({
        format: 'uri',
        description: 'The first guest link (its gateway URL when there is one).',
      }),
    ),
    guestUrls: Type.Array(Type.String({ format: 'uri' }), {
      description: 'Every guest link (gateway URLs when there are).',
    }),
    delivery: Type.Optional(
      Type.Array(DeliverySchema, {
        description: 'With `notify`: what the bot sent, queued or could not send.',
      }),
    ),
  },
  { $id: 'TriggerResult' },
);
export type TriggerResult = Type.Static<typeof TriggerResultSchema>;

/** The header a retrying caller sends so that it never makes a second visit. */
const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7e]{1,255}$';
export const IdempotencyKey = Type.String({
  pattern: IDEMPOTENCY_KEY_PATTERN,
  'x-rule': '1 to 255 visible ASCII characters',
  description:
    'Any unique value per visit (a UUID): a retry with the same key and body returns the same visit.',
});

/** The gateway's URL when the visit has one, else the short one, else the long one. */
const urlOf = handedUrl;

export interface TriggerServiceOptions {
  store: Store;
  visits: VisitService;
  runner: JobRunner;
  /** The bot's Webex client for deliveries (absent: `notify` is refused). Inline sends do not retry. */
  webex?: WebexApi;
  now?: () => number;
  /** Idempotency-Key lease and lifetime in seconds (defaults IDEMPOTENCY_LEASE_SECONDS and _TTL_). */
  idempotency?: { leaseSeconds?: number; ttlSeconds?: number };
}

/** An authenticated trigger request; `replay`: its exact signed request was received before. */
export interface TriggerCaller {
  org: Org;
  actor: string;
  replay?: boolean;
}

const visitIdOf = () => `vis_${randomBytes(9).toString('base64url')}`;
const replayError = () =>
  new UnauthorizedError('Signature refused: this exact request was already received (replay)');

export class TriggerService {
  readonly #store: Store;
  readonly #visits: VisitService;
  readonly #runner: JobRunner;
  readonly #webex: WebexApi | undefined;
  readonly #now: () => number;
  readonly #leaseSeconds: number;
  readonly #ttlSeconds: number;

  constructor(options: TriggerServiceOptions) {
    this.#store = options.store;
    this.#visits = options.visits;
    this.#runner = options.runner;
    this.#webex = options.webex;
    this.#now = options.now ?? nowSeconds;
    this.#leaseSeconds = options.idempotency?.leaseSeconds ?? IDEMPOTENCY_LEASE_SECONDS;
    this.#ttlSeconds = options.idempotency?.ttlSeconds ?? IDEMPOTENCY_KEY_TTL_SECONDS;
  }

  /** A new hook: its secret is returned once. */
  async createHook(org: Org, name: string): Promise<{ hook: Omit<HookRecord, 'secret'>; secret: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) {
      throw new ValidationError([
        { path: 'name', rule: 'length', message: 'name must be 1 to 100 characters' },
      ]);
    }
    const hook: HookRecord = {
      id: `hook_${randomBytes(9).toString('base64url')}`,
      orgId: org.id,
      name: trimmed,
      secret: `ics_${randomBytes(32).toString('base64url')}`,
      createdAt: this.#now(),
    };
    await this.#store.createHook(hook);
    const { secret, ...view } = hook;
    return { hook: view, secret };
  }

  /**
   * A new secret for an active hook, returned once; the old one is still accepted for
   * `graceSeconds` (0: refused at once), so senders move over without downtime.
   */
  async rotateHook(
    org: Org,
    id: string,
    graceSeconds: number,
  ): Promise<{ secret: string; previousUntil: number }> {
    if (!Number.isSafeInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 30 * 86_400) {
      throw new ValidationError([
        { path: 'grace', rule: 'range', message: 'the grace period must be 0 s to 30 days' },
      ]);
    }
    const secret = `ics_${randomBytes(32).toString('base64url')}`;
    const previousUntil = this.#now() + graceSeconds;
    if (!(await this.#store.rotateHookSecret(org.id, id, secret, previousUntil))) {
      throw new NotFoundError(`No active hook ${JSON.stringify(id.slice(0, 60))}`);
    }
    return { secret, previousUntil };
  }

  /**
   * The organisation of a signed request; the signature is checked over the raw body. A request
   * seen before is marked `replay` (the caller refuses it unless it carries a known
   * Idempotency-Key): "seen" is by hook, timestamp and SHA-256 of the raw body, so no other
   * spelling of the headers makes the same request new.
   */
  async authenticateSignature(
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
  ): Promise<TriggerCaller> {
    const header = (name: string) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const hookId = header(TRIGGER_HEADERS.hook);
    if (!hookId) {
      // Say what is missing rather than calling an absent hook unknown.
      const sent = [TRIGGER_HEADERS.timestamp, TRIGGER_HEADERS.signature].filter((h) => header(h));
      throw new UnauthorizedError(
        sent.length === 0
          ? 'No credentials: send an API key as "Authorization: Bearer <key>", or sign the request with the X-IC-Hook, X-IC-Timestamp and X-IC-Signature headers'
          : 'The X-IC-Hook header is missing: a signed request needs X-IC-Hook, X-IC-Timestamp and X-IC-Signature (or send an API key as "Authorization: Bearer <key>")',
      );
    }
    const hook =
      hookId && /^hook_[A-Za-z0-9_-]{1,40}$/.test(hookId) ? await this.#store.getHook(hookId) : undefined;
    if (!hook || hook.revokedAt !== undefined)
      throw new UnauthorizedError('Unknown or revoked hook (X-IC-Hook)');
    const now = this.#now();
    const secrets = [hook.secret];
    if (hook.previousSecret !== undefined && (hook.previousSecretUntil ?? 0) > now) {
      secrets.push(hook.previousSecret);
    }
    const check = verifyTriggerSignature({
      secret: secrets,
      rawBody,
      timestamp: header(TRIGGER_HEADERS.timestamp),
      signature: header(TRIGGER_HEADERS.signature),
      now,
    });
    if (!check.ok) throw new UnauthorizedError(`Signature refused: ${check.message}`);
    // The replay window is the timestamp tolerance (deliveries older than it are pruned).
    const body = createHash('sha256').update(rawBody).digest('hex');
    const fresh = await this.#store.markDelivery(`trigger:${hook.id}:${check.timestamp}:${body}`, now);
    const org = await this.#store.getOrg(hook.orgId);
    if (!org) throw new UnauthorizedError('Unknown or revoked hook (X-IC-Hook)');
    return { org, actor: `hook:${hook.id}`, ...(fresh ? {} : { replay: true }) };
  }

  async trigger(
    org: Org,
    actor: string,
    body: unknown,
    rawBody: Buffer,
    idempotencyKey: string | undefined,
    options: { replay?: boolean } = {},
  ): Promise<{ status: 200 | 201; replayed: boolean; result: TriggerResult }> {
    // A replayed signed request makes nothing; it may only be answered from a known key.
    if (options.replay && idempotencyKey === undefined) throw replayError();
    const issues = schemaIssues(TriggerInput, body);
    if (issues.length > 0) throw new ValidationError(issues);
    const { notify, ...visitInput } = body as Type.Static<typeof TriggerInput>;
    if (notify && !this.#webex) {
      throw new ValidationError([
        {
          path: 'notify',
          rule: 'config',
          message: 'notify needs the bot: set WEBEX_TOKEN in the server configuration',
        },
      ]);
    }
    if (idempotencyKey !== undefined && !new RegExp(IDEMPOTENCY_KEY_PATTERN).test(idempotencyKey)) {
      throw new ValidationError([
        {
          path: 'Idempotency-Key',
          rule: 'format',
          message: 'Idempotency-Key must be 1 to 255 visible ASCII characters',
        },
      ]);
    }
    const hash = createHash('sha256').update(rawBody).digest('hex');
    let visitId: string | undefined;
    const owner = randomBytes(12).toString('base64url');
    if (idempotencyKey !== undefined) {
      const now = this.#now();
      const reserved: IdempotencyReservation = await this.#store.reserveIdempotencyKey(
        org.id,
        idempotencyKey,
        hash,
        now,
        {
          visitId: visitIdOf(),
          owner,
          leaseUntil: now + this.#leaseSeconds,
          expiredBefore: now - this.#ttlSeconds,
          ...(options.replay ? { existingOnly: true } : {}),
        },
      );
      if (reserved.status === 'absent') throw replayError();
      if (reserved.status !== 'new' && reserved.requestHash !== hash) {
        throw new ConflictError('This Idempotency-Key was used with a different body');
      }
      if (reserved.status === 'pending') {
        throw new ConflictError(
          `A request with this Idempotency-Key is still being served: retry in ${Math.max(1, reserved.leaseUntil - now)} s at the latest`,
        );
      }
      if (reserved.status === 'done') {
        const visit = await this.#visits.get(org, reserved.visitId);
        return { status: 201, replayed: true, result: flat(visit) };
      }
      visitId = reserved.visitId;
    }
    let visit: VisitView;
    try {
      // With a key, the visit id was fixed when the key was reserved: a retry that takes over
      // after a crash finds the visit if it was made, or makes it under the same id.
      visit = await this.#visits.create(org, actor, visitInput, {
        ...(visitId ? { id: visitId } : {}),
        // The host the links go to hears when a guest waits (unless `alertTo` names someone).
        ...(notify?.host ? { alertTo: { email: notify.host } } : {}),
      });
    } catch (err) {
      // Two holders racing on one id (a lease outlived): the other one's visit is this one.
      const made = visitId ? await this.#store.getVisit(org.id, visitId) : undefined;
      if (made) visit = await this.#visits.view(made);
      else {
        if (idempotencyKey !== undefined)
          await this.#store.releaseIdempotencyKey(org.id, idempotencyKey, owner);
        throw err;
      }
    }
    if (idempotencyKey !== undefined)
      await this.#store.completeIdempotencyKey(org.id, idempotencyKey, visit.id, this.#now());
    const result = flat(visit);
    if (notify) result.delivery = await this.#deliver(org, visit, notify);
    return { status: 201, replayed: false, result };
  }

  async #deliver(org: Org, visit: VisitView, notify: Type.Static<typeof Notify>): Promise<Delivery[]> {
    const plan: { to: Delivery['to']; target: MessageTarget; label: string; markdown: string }[] = [];
    if (notify.host)
      plan.push({
        to: 'host',
        target: { toPersonEmail: notify.host },
        label: notify.host,
        markdown: hostMessage(visit),
      });
    if (notify.guests?.roomId) {
      plan.push({
        to: 'guests',
        target: { roomId: notify.guests.roomId },
        label: notify.guests.roomId,
        markdown: guestMessage(visit),
      });
    } else if (notify.guests?.toPersonEmail) {
      plan.push({
        to: 'guests',
        target: { toPersonEmail: notify.guests.toPersonEmail },
        label: notify.guests.toPersonEmail,
        markdown: guestMessage(visit),
      });
    }
    const results: Delivery[] = [];
    for (const item of plan) {
      try {
        await this.#webex!.sendMessage(item.target, item.markdown);
        results.push({ to: item.to, target: item.label, status: 'sent' });
        await this.#visitEvent(org, visit, 'delivery.sent', { to: item.to });
      } catch (err) {
        const transient = !(err instanceof HttpError) || err.status === 429 || err.status >= 500;
        const error = (err as Error).message;
        if (transient) {
          await this.#runner.enqueue('deliver', {
            orgId: org.id,
            visitId: visit.id,
            to: item.to,
            target: item.target,
            markdown: item.markdown,
          });
          results.push({ to: item.to, target: item.label, status: 'queued', error });
        } else results.push({ to: item.to, target: item.label, status: 'failed', error });
        await this.#visitEvent(org, visit, transient ? 'delivery.queued' : 'delivery.failed', {
          to: item.to,
          error,
        });
      }
    }
    return results;
  }

  async #visitEvent(org: Org, visit: VisitView, type: string, data: Record<string, unknown>): Promise<void> {
    await this.#store.appendEvent({
      orgId: org.id,
      visitId: visit.id,
      at: this.#now(),
      actor: 'system',
      type,
      data,
    });
  }
}

/** The visit plus flat fields for JSON-path pickers in no-code flows. */
function flat(visit: VisitView): TriggerResult {
  const host = visit.hosts[0];
  const guests = visit.guests.map(urlOf);
  return {
    ...visit,
    ...(host ? { hostUrl: urlOf(host) } : {}),
    ...(guests[0] ? { guestUrl: guests[0] } : {}),
    guestUrls: guests,
  };
}

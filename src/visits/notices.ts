/**
 * Notices: a visit's recipients hear that it was made (with their link and a calendar
 * invitation) and that it was cancelled. Each notice is a stored job, written in the same
 * transaction as the change that calls for it (createVisit, transitionVisit), deduplicated per
 * (trigger, visit, link): it survives a restart and runs once across instances.
 *
 * Each attempt is a delivery record (channel, address, trigger, actor, provider id, status, error);
 * a success is a `link.delivered` event, a final failure (refused, or out of attempts) a
 * `link.delivery_failed` event, both in the visit's log and so in outbound events. Addresses are
 * masked in what is logged and in events. A channel is one entry in `channels` and one composer
 * in COMPOSERS.
 */
import { randomUUID } from 'node:crypto';
import type { Channel, OutboundMessage } from '../domain/channels.js';
import { invitation, inviteUid } from '../domain/invite.js';
import { composeNotice, type NoticeKind } from '../domain/messages/index.js';
import { type ChannelName, channelOf, maskAddress } from '../domain/recipients.js';
import { fitSms } from '../domain/sms.js';
import { nowSeconds } from '../domain/time.js';
import { visitState } from '../domain/visit-state.js';
import { ChannelError } from '../errors.js';
import type { JobHandler } from '../jobs/runner.js';
import { PermanentJobError } from '../jobs/runner.js';
import type { NewJob, RecipientRecord, Store, VisitLinkRecord, VisitRecord } from '../store/types.js';

export const NOTICE_JOB = 'visit.notice';

/**
 * Attempts before a notice fails for good: with the runner's backoff (4 s doubling, at most an
 * hour) the last comes about 2 h after the first, long enough for an SMTP server to come back.
 */
const NOTICE_ATTEMPTS = 12;

/** What a notice is about. */
export type NoticeTrigger = 'visit.created' | 'visit.cancelled';
/** What a job sends: a notice, a reminder (stored with the creation notices), or a resend. */
type JobTrigger = NoticeTrigger | 'visit.reminder' | 'resend';

const KIND: Record<JobTrigger, NoticeKind> = {
  'visit.created': 'created',
  'visit.cancelled': 'cancelled',
  'visit.reminder': 'reminder',
  // A resend is the link's notice again, with the same invitation (same UID and SEQUENCE).
  resend: 'created',
};

/** Reminders before a visit's start, by default (REMINDER_OFFSETS): a day and an hour. */
export const DEFAULT_REMINDER_OFFSETS: readonly number[] = [86_400, 3_600];

/**
 * How late a reminder may still go out (its moment plus this): a job that runs later (the server
 * was down, the channel kept failing) sends nothing and records `skipped`. A reminder is never late.
 */
const REMINDER_GRACE_SECONDS = 600;

/** What VisitService asks of notices: the jobs to store with a change. */
export interface NoticePlanner {
  jobs(
    visit: VisitRecord,
    recipients: readonly RecipientRecord[],
    trigger: NoticeTrigger,
    actor: string,
    sequence: number,
  ): NewJob[];
  /** Whether a channel is on (SMTP_URL, SMS_PROVIDER). */
  isOn(channel: ChannelName): boolean;
  /** The job that sends a link's notice again to its recipient, on `channel`. */
  resend(
    visit: VisitRecord,
    recipient: RecipientRecord,
    channel: ChannelName,
    actor: string,
    sequence: number,
  ): NewJob;
}

interface ComposeInput {
  visit: VisitRecord;
  recipient: RecipientRecord;
  address: string;
  url: string;
  trigger: JobTrigger;
  sequence: number;
  timeZone: string;
  from: { name: string; address: string };
  now: number;
}

/** The message each channel sends. */
const COMPOSERS: Record<ChannelName, (input: ComposeInput) => OutboundMessage> = {
  email: (i) => {
    const start = i.visit.notBefore ?? i.visit.createdAt;
    const notice = composeNotice({
      kind: KIND[i.trigger],
      role: i.recipient.role,
      subject: i.visit.subject,
      ...(i.recipient.name ? { name: i.recipient.name } : {}),
      ...(i.recipient.language ? { language: i.recipient.language } : {}),
      timeZone: i.timeZone,
      start,
      end: i.visit.expiresAt,
      url: i.url,
    });
    // A reminder carries no invitation: the one of the creation notice is in the calendar already.
    if (i.trigger === 'visit.reminder')
      return { to: i.address, subject: notice.subject, text: notice.text, html: notice.html };
    const method = i.trigger === 'visit.cancelled' ? 'CANCEL' : 'REQUEST';
    const ics = invitation({
      method,
      uid: inviteUid(i.visit.id, i.recipient.role, i.recipient.index),
      sequence: i.sequence,
      start,
      end: i.visit.expiresAt,
      stamp: i.now,
      timeZone: i.timeZone,
      summary: i.visit.subject,
      description: notice.text,
      ...(method === 'REQUEST' ? { url: i.url } : {}),
      organizer: { name: i.from.name, email: i.from.address },
      attendee: { email: i.address, ...(i.recipient.name ? { name: i.recipient.name } : {}) },
    });
    return { to: i.address, subject: notice.subject, text: notice.text, html: notice.html, ics };
  },
  sms: (i) => {
    const notice = composeNotice({
      kind: KIND[i.trigger],
      role: i.recipient.role,
      subject: i.visit.subject,
      ...(i.recipient.language ? { language: i.recipient.language } : {}),
      timeZone: i.timeZone,
      start: i.visit.notBefore ?? i.visit.createdAt,
      end: i.visit.expiresAt,
      url: i.url,
    });
    // Two segments at most: the visit's line is shortened, never the link.
    const text =
      i.trigger === 'visit.cancelled'
        ? fitSms((line) => line, notice.subject).text
        : i.trigger === 'visit.reminder'
          ? fitSms((line) => `${notice.headline} ${line}: ${i.url}`, i.visit.subject).text
          : fitSms((line) => `${line}: ${i.url}`, notice.subject).text;
    return { to: i.address, text };
  },
};

export interface NoticesOptions {
  store: Store;
  /** The channels that are on (email with SMTP_URL). A recipient whose channel is off gets no job. */
  channels: Partial<Record<ChannelName, Channel>>;
  /** The URL a person is given for a link (VisitService.handedUrlOf). */
  urlOf: (link: VisitLinkRecord) => string;
  /** The sender (SMTP_FROM): the organizer of invitations. */
  from: { name: string; address: string };
  /** The zone of recipients who gave none (TZ; default UTC). */
  timeZone?: string;
  now?: () => number;
  /**
   * Seconds before a visit's start at which each recipient is reminded (REMINDER_OFFSETS; default
   * DEFAULT_REMINDER_OFFSETS; empty: no reminders).
   */
  reminderOffsets?: readonly number[];
  /** Attempts before a notice fails for good (default NOTICE_ATTEMPTS). */
  maxAttempts?: number;
  /** Told of each attempt, addresses masked (serve logs it). */
  log?: (level: 'info' | 'warn', line: string) => void;
  /** Told when an event was recorded (the outbound events worker is kicked). */
  onEvent?: (visit: VisitRecord) => void;
}

export class Notices implements NoticePlanner {
  readonly #o: NoticesOptions;
  readonly #now: () => number;

  constructor(options: NoticesOptions) {
    this.#o = options;
    this.#now = options.now ?? nowSeconds;
  }

  jobs(
    visit: VisitRecord,
    recipients: readonly RecipientRecord[],
    trigger: NoticeTrigger,
    actor: string,
    sequence: number,
  ): NewJob[] {
    const now = this.#now();
    const reached = recipients.filter((r) => {
      const channel = channelOf(r);
      return channel !== undefined && this.#o.channels[channel] !== undefined;
    });
    const notices: NewJob[] = reached.map((r) => ({
      type: NOTICE_JOB,
      payload: {
        orgId: visit.orgId,
        visitId: visit.id,
        role: r.role,
        index: r.index,
        trigger,
        actor,
        sequence,
      },
      runAt: now,
      maxAttempts: this.#o.maxAttempts ?? NOTICE_ATTEMPTS,
      dedupKey: `notice:${trigger}:${visit.id}:${r.role}:${r.index}`,
    }));
    if (trigger !== 'visit.created' || visit.notBefore === undefined) return notices;
    // One reminder per recipient and offset, due at start - offset; one already past gets none.
    const start = visit.notBefore;
    const reminders: NewJob[] = [];
    for (const offset of this.#o.reminderOffsets ?? DEFAULT_REMINDER_OFFSETS) {
      const due = start - offset;
      if (due <= now) continue;
      for (const r of reached)
        reminders.push({
          type: NOTICE_JOB,
          payload: {
            orgId: visit.orgId,
            visitId: visit.id,
            role: r.role,
            index: r.index,
            trigger: 'visit.reminder',
            actor: 'system',
            sequence,
            offset,
            due,
          },
          runAt: due,
          maxAttempts: this.#o.maxAttempts ?? NOTICE_ATTEMPTS,
          dedupKey: `reminder:${visit.id}:${r.role}:${r.index}:${offset}`,
        });
    }
    return [...notices, ...reminders];
  }

  isOn(channel: ChannelName): boolean {
    return this.#o.channels[channel] !== undefined;
  }

  resend(
    visit: VisitRecord,
    recipient: RecipientRecord,
    channel: ChannelName,
    actor: string,
    sequence: number,
  ): NewJob {
    return {
      type: NOTICE_JOB,
      payload: {
        orgId: visit.orgId,
        visitId: visit.id,
        role: recipient.role,
        index: recipient.index,
        trigger: 'resend',
        actor,
        sequence,
        channel,
      },
      runAt: this.#now(),
      maxAttempts: this.#o.maxAttempts ?? NOTICE_ATTEMPTS,
      // Each resend is its own job (asked twice, sent twice), and each runs once.
      dedupKey: `resend:${visit.id}:${recipient.role}:${recipient.index}:${randomUUID()}`,
    };
  }

  handler(): JobHandler {
    return async (payload, job) => {
      const { orgId, visitId, role, index, trigger, actor, sequence } = payload;
      if (
        typeof orgId !== 'string' ||
        typeof visitId !== 'string' ||
        (role !== 'host' && role !== 'guest') ||
        typeof index !== 'number' ||
        (trigger !== 'visit.created' &&
          trigger !== 'visit.cancelled' &&
          trigger !== 'visit.reminder' &&
          trigger !== 'resend') ||
        typeof actor !== 'string' ||
        typeof sequence !== 'number'
      )
        throw new PermanentJobError('notice without its visit');
      const visit = await this.#o.store.getVisit(orgId, visitId);
      if (!visit) return; // purged meanwhile
      // A creation notice not sent before the visit was cancelled or its window closed is moot.
      if (trigger === 'visit.created') {
        const state = visitState(visit, this.#now());
        if (state === 'cancelled' || state === 'ended' || state === 'expired' || state === 'no_show') return;
      }
      const recipient = (await this.#o.store.listRecipients(visitId)).find(
        (r) => r.role === role && r.index === index,
      );
      const link = (await this.#o.store.getVisitLinks(visitId)).find(
        (l) => l.role === role && l.index === index,
      );
      if (!recipient || !link) return;
      // A resend may name the other channel; everything else goes on the recipient's own.
      const asked = payload['channel'];
      const channelName = asked === 'email' || asked === 'sms' ? asked : channelOf(recipient);
      const address = channelName === 'sms' ? recipient.phone : recipient.email;
      if (!channelName || !address) return;
      const now = this.#now();
      const attempt = job.attempts + 1;
      const skip =
        trigger === 'visit.reminder'
          ? this.#reminderMoot(visit, payload, now)
          : trigger === 'resend'
            ? this.#overMoot(visit, now)
            : undefined;
      const masked = maskAddress(address);
      const record = {
        orgId,
        visitId,
        role,
        index,
        channel: channelName,
        address,
        trigger,
        actor,
        attempt,
      } as const;
      const event = (type: string, data: Record<string, unknown>) => ({
        orgId,
        visitId,
        at: now,
        actor: 'system',
        type,
        data: { role, index, channel: channelName, to: masked, trigger, attempt, ...data },
      });
      if (skip) {
        // Nothing is sent; the record says why (no event: nothing was delivered or failed).
        await this.#o.store.recordDelivery({ ...record, status: 'skipped', error: skip, at: now });
        this.#o.log?.('info', `${trigger} for ${visitId} (${role} ${index}) to ${masked} skipped: ${skip}`);
        return;
      }
      const channel = this.#o.channels[channelName];
      if (!channel) {
        const error = `${channelName} is off on this server`;
        await this.#o.store.recordDelivery(
          { ...record, status: 'failed', error, at: now },
          event('link.delivery_failed', { error }),
        );
        this.#o.onEvent?.(visit);
        throw new PermanentJobError(error);
      }
      const message = COMPOSERS[channelName]({
        visit,
        recipient,
        address,
        url: this.#o.urlOf(link),
        trigger,
        sequence,
        timeZone: recipient.timeZone ?? this.#o.timeZone ?? 'UTC',
        from: this.#o.from,
        now,
      });
      try {
        const result = await channel.send(message);
        await this.#o.store.recordDelivery(
          {
            ...record,
            status: result.status,
            ...(result.providerId ? { providerId: result.providerId } : {}),
            at: now,
          },
          event('link.delivered', { status: result.status }),
        );
        this.#o.onEvent?.(visit);
        this.#o.log?.(
          'info',
          `${trigger} notice for ${visitId} (${role} ${index}) by ${channelName} to ${masked}: ${result.status}`,
        );
      } catch (err) {
        // The address is masked in what leaves the store (the job's error, logs, events).
        const raw = err instanceof Error ? err.message : String(err);
        const error = raw.split(address).join(masked);
        const permanent = err instanceof ChannelError ? err.permanent : false;
        const final = permanent || attempt >= job.maxAttempts;
        await this.#o.store.recordDelivery(
          { ...record, status: 'failed', error, at: now },
          final ? event('link.delivery_failed', { error, permanent }) : undefined,
        );
        if (final) this.#o.onEvent?.(visit);
        this.#o.log?.(
          'warn',
          `${trigger} notice for ${visitId} (${role} ${index}) by ${channelName} to ${masked} failed (attempt ${attempt}${final ? ', final' : ', will retry'}): ${error}`,
        );
        if (permanent) throw new PermanentJobError(error);
        throw new Error(error);
      }
    };
  }

  /** Why a reminder must not go out now (cancelled, over, rescheduled, too late), or undefined. */
  #reminderMoot(visit: VisitRecord, payload: Record<string, unknown>, now: number): string | undefined {
    const over = this.#overMoot(visit, now);
    if (over) return over;
    const { offset, due } = payload;
    if (typeof offset !== 'number' || typeof due !== 'number') return 'a reminder without its moment';
    if (visit.notBefore === undefined || visit.notBefore - offset !== due) return 'the visit was rescheduled';
    if (now > due + REMINDER_GRACE_SECONDS) return 'its moment has passed: a reminder is never sent late';
    return undefined;
  }

  /** Why nothing should go out for a visit any more (cancelled, over), or undefined. */
  #overMoot(visit: VisitRecord, now: number): string | undefined {
    const state = visitState(visit, now);
    if (state === 'cancelled') return 'the visit was cancelled';
    if (state === 'ended' || state === 'expired' || state === 'no_show') return 'the visit is over';
    return undefined;
  }
}

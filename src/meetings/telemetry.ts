/**
 * Meeting telemetry: what happens to a Cisco visit once its links are out. Webex tells who joined
 * and left a meeting and when meetings start and end (the `meetings` and `meetingParticipants`
 * webhooks); where it cannot (US government, FedRAMP, has no meeting webhooks) a bounded poller
 * asks it instead. Either way the facts reach the visit through VisitService.recordMeetingFact.
 *
 * A delivery names a meeting, not a visit. Instant Connect titles a visit's space
 * `Virtual Visit - <sub>`, and the space's meetingInfo names its meeting, so the visits that wait
 * for a meeting are matched by subject to a space title, then by meetingInfo to a meeting id; the
 * mapping is kept (meeting_links) and the look-ups run in background jobs, never in the request
 * that Webex is waiting on.
 */
import { createHash } from 'node:crypto';
import Type from 'typebox';
import { nowSeconds } from '../domain/time.js';
import {
  type MeetingParticipant,
  type MeetingsApi,
  meetingSeriesId,
  type Room,
  subjectsOfSpaceTitle,
} from '../domain/webex.js';
import { InstantConnectError, UnauthorizedError, ValidationError } from '../errors.js';
import { verifySparkSignature } from '../hooks/signatures.js';
import type { JobHandler, JobRunner } from '../jobs/runner.js';
import type { Store, VisitRecord, VisitSource } from '../store/types.js';
import { PollLoop } from '../util/poll-loop.js';
import type { MeetingFact, VisitService } from '../visits/service.js';

/** Where `webhook register --meetings` keeps the secret of the meeting webhooks. */
export const MEETINGS_WEBHOOK_SECRET_SETTING = 'webex.meetingsWebhookSecret';

/** `webhooks` (Webex calls us), `poll` (we ask Webex: FedRAMP has no meeting webhooks), `off`. */
export type TelemetryMode = 'webhooks' | 'poll' | 'off';
export const TELEMETRY_MODES: readonly TelemetryMode[] = ['webhooks', 'poll', 'off'];

/** How often the poller asks, and how much it does per round (bounded: Webex rate-limits). */
export const DEFAULT_POLL = { seconds: 30, visits: 20 } as const;

/** Spaces listed when looking for visits' spaces: the most recently active first. */
const SPACES_SCANNED = 1000;
/** Visits looked up per mapping round. */
const MAPPED_PER_ROUND = 50;
/** A meeting no visit of ours matched is not looked up again for this long (seconds). */
const UNKNOWN_MEETING_TTL = 300;

/** What Webex POSTs for the meeting webhooks: the fields telemetry reads (it sends more). */
export const MeetingDeliverySchema = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'The webhook id.' })),
    resource: Type.String({ description: '`meetings` or `meetingParticipants`; others are ignored.' }),
    event: Type.String({ description: '`started`/`ended` (meetings), `joined`/`left` (participants).' }),
    data: Type.Object({
      id: Type.String({ minLength: 1, description: 'The meeting instance, or the participant.' }),
      meetingId: Type.Optional(Type.String({ description: 'Participants: their meeting instance.' })),
      host: Type.Optional(Type.Boolean()),
      coHost: Type.Optional(Type.Boolean()),
      spaceModerator: Type.Optional(Type.Boolean()),
      state: Type.Optional(Type.String()),
      joinedTime: Type.Optional(Type.String()),
      leftTime: Type.Optional(Type.String()),
      start: Type.Optional(Type.String()),
      end: Type.Optional(Type.String()),
    }),
  },
  { $id: 'MeetingDelivery' },
);
type Delivery = Type.Static<typeof MeetingDeliverySchema>;

/** The answer to Webex: always quick, the work is queued. */
export const MeetingReceiptSchema = Type.Object(
  {
    accepted: Type.Boolean({ description: 'False for deliveries telemetry ignores, and for duplicates.' }),
    reason: Type.String({ description: '`queued`, `duplicate delivery` or `ignored: …`.' }),
  },
  { $id: 'MeetingReceipt' },
);
export type MeetingReceipt = Type.Static<typeof MeetingReceiptSchema>;

export interface MeetingTelemetryOptions {
  store: Store;
  visits: VisitService;
  runner: JobRunner;
  /** A token that may read the visits' spaces (the bot) and, for polling, their participants. */
  api: MeetingsApi;
  mode: TelemetryMode;
  /** Visits of these sources are watched (Cisco's: never `local`, whose lobby is here). */
  sources: VisitSource[];
  /** The meeting webhooks' secret, when not stored by `webhook register --meetings`. */
  secret?: string;
  poll?: { seconds?: number; visits?: number };
  /** Epoch seconds. */
  now?: () => number;
}

/** Host links give the host role; Webex marks those people host, co-host or space moderator. */
const roleOf = (p: Pick<MeetingParticipant, 'host' | 'coHost' | 'spaceModerator'>): 'host' | 'guest' =>
  p.host || p.coHost || p.spaceModerator ? 'host' : 'guest';

/** An ISO time from Webex, in epoch seconds (the clock when absent or unreadable). */
function secondsOf(iso: string | undefined, fallback: number): number {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : fallback;
}

export class MeetingTelemetry {
  readonly #o: MeetingTelemetryOptions;
  readonly #now: () => number;
  /** Meeting series no visit matched, until when (epoch s): an org-wide webhook sees every meeting. */
  readonly #unknown = new Map<string, number>();
  /** The rounds of `poll` mode: one now, then one every `poll.seconds` after the last ended. */
  readonly #loop: PollLoop;
  #polling: Promise<void> | undefined;
  #mapping: Promise<number> | undefined;
  readonly mode: TelemetryMode;
  /** Where a failed poll round is told (serve logs it; the next round tries again). */
  onError: (what: string, err: unknown) => void = () => {};
  /** Counters for metrics and tests. */
  readonly stats = { deliveries: 0, facts: 0, mapped: 0, polls: 0 };

  constructor(options: MeetingTelemetryOptions) {
    this.#o = options;
    this.#now = options.now ?? nowSeconds;
    this.mode = options.mode;
    this.#loop = new PollLoop(
      () => this.pollOnce().catch((err: unknown) => this.onError('meeting poll', err)),
      (options.poll?.seconds ?? DEFAULT_POLL.seconds) * 1000,
    );
  }

  async #secret(): Promise<string | undefined> {
    return this.#o.secret ?? (await this.#o.store.getSetting(MEETINGS_WEBHOOK_SECRET_SETTING));
  }

  /** Checks, deduplicates and stores a delivery; returns what was done (always fast). */
  async receive(rawBody: Buffer, signature: string | undefined): Promise<MeetingReceipt> {
    const secret = await this.#secret();
    if (!secret)
      throw new UnauthorizedError(
        'No meeting webhook secret is configured (WEBEX_MEETINGS_WEBHOOK_SECRET or `webhook register --meetings`)',
      );
    if (!verifySparkSignature(secret, rawBody, signature)) {
      throw new UnauthorizedError(
        signature ? 'X-Spark-Signature does not match the body' : 'X-Spark-Signature is missing',
      );
    }
    let delivery: Partial<Delivery>;
    try {
      delivery = JSON.parse(rawBody.toString('utf8')) as Partial<Delivery>;
    } catch {
      throw new InstantConnectError('ERR_BAD_JSON', 'The body is not valid JSON');
    }
    const data = typeof delivery === 'object' && delivery !== null ? delivery.data : undefined;
    if (!data || typeof data.id !== 'string' || data.id === '') {
      throw new ValidationError([{ path: 'data.id', rule: 'required', message: 'data.id is required' }]);
    }
    const kind = `${delivery.resource}/${delivery.event}`;
    const participant = delivery.resource === 'meetingParticipants';
    if (
      ![
        'meetings/started',
        'meetings/ended',
        'meetingParticipants/joined',
        'meetingParticipants/left',
      ].includes(kind)
    )
      return { accepted: false, reason: `ignored: ${kind}` };
    if (participant && typeof data.meetingId !== 'string')
      throw new ValidationError([
        { path: 'data.meetingId', rule: 'required', message: 'data.meetingId is required for participants' },
      ]);
    const payload: Record<string, unknown> = {
      kind,
      id: data.id,
      meetingId: participant ? data.meetingId : data.id,
      role: roleOf(data),
      at: secondsOf(
        delivery.event === 'joined'
          ? data.joinedTime
          : delivery.event === 'left'
            ? data.leftTime
            : delivery.event === 'started'
              ? data.start
              : data.end,
        this.#now(),
      ),
    };
    // One job per fact: Webex retries a delivery it thinks failed, and a person may join twice.
    const dedup = createHash('sha256')
      .update(JSON.stringify([kind, data.id, payload['at']]))
      .digest('base64url');
    const id = await this.#o.runner.enqueue('meetings.fact', payload, {
      dedupKey: `webex:meetings:${dedup}`,
    });
    this.stats.deliveries += 1;
    return id === undefined
      ? { accepted: false, reason: 'duplicate delivery' }
      : { accepted: true, reason: 'queued' };
  }

  handlers(): Record<string, JobHandler> {
    return { 'meetings.fact': (payload) => this.#onFact(payload) };
  }

  async #onFact(payload: Record<string, unknown>): Promise<void> {
    const kind = String(payload['kind']);
    const meetingId = String(payload['meetingId']);
    const at = Number(payload['at']);
    const visit = await this.visitOfMeeting(meetingId, at);
    if (!visit) return; // not a visit of ours
    const fact: MeetingFact =
      kind === 'meetings/started' || kind === 'meetings/ended'
        ? { kind: kind === 'meetings/started' ? 'started' : 'ended', meetingId, at, via: 'webhook' }
        : {
            kind: 'participant',
            participantId: String(payload['id']),
            role: payload['role'] === 'host' ? 'host' : 'guest',
            state: kind === 'meetingParticipants/joined' ? 'joined' : 'left',
            at,
            via: 'webhook',
          };
    await this.#o.visits.recordMeetingFact(visit, fact);
    this.stats.facts += 1;
  }

  /**
   * The visit a meeting belongs to: by the kept mapping, else after looking up the spaces of the
   * visits not mapped yet. A space serves every visit of its subject: the one whose window holds
   * `at` (the newest otherwise).
   */
  async visitOfMeeting(meetingId: string, at: number): Promise<VisitRecord | undefined> {
    const series = meetingSeriesId(meetingId);
    let links = await this.#o.store.findMeetingLinks(series);
    if (links.length === 0) {
      const now = this.#now();
      if ((this.#unknown.get(series) ?? 0) > now) return undefined;
      await this.mapVisits();
      links = await this.#o.store.findMeetingLinks(series);
      if (links.length === 0) {
        this.#remember(series, now + UNKNOWN_MEETING_TTL);
        return undefined;
      }
    }
    const visits: VisitRecord[] = [];
    for (const link of links) {
      const visit = await this.#o.store.getVisit(link.orgId, link.visitId);
      if (visit) visits.push(visit);
    }
    const inWindow = visits.find((v) => (v.notBefore ?? v.createdAt) <= at && at < v.expiresAt);
    return inWindow ?? visits[0];
  }

  #remember(series: string, until: number): void {
    this.#unknown.set(series, until);
    // Bounded: the oldest entries go first.
    while (this.#unknown.size > 10_000) this.#unknown.delete(this.#unknown.keys().next().value!);
  }

  /**
   * Finds the space and meeting of visits in their window that have none yet (at most
   * MAPPED_PER_ROUND a call): one listing of spaces, then meetingInfo for each title that matches.
   * Returns how many were mapped.
   */
  mapVisits(): Promise<number> {
    // One look-up at a time: deliveries handled together share it.
    this.#mapping ??= this.#mapVisits().finally(() => {
      this.#mapping = undefined;
    });
    return this.#mapping;
  }

  async #mapVisits(): Promise<number> {
    const now = this.#now();
    const waiting = await this.#o.store.unmappedMeetingVisits(this.#o.sources, now, MAPPED_PER_ROUND);
    if (waiting.length === 0) return 0;
    const spaces = await this.#o.api.listSpaces(SPACES_SCANNED);
    const bySubject = new Map<string, Room>();
    // Exact titles first, then the `-1`… of repeated titles, and the most recently active space wins.
    for (const pass of [0, 1])
      for (const space of spaces) {
        const subject = subjectsOfSpaceTitle(space.title)[pass];
        if (subject !== undefined && !bySubject.has(subject)) bySubject.set(subject, space);
      }
    let mapped = 0;
    for (const visit of waiting) {
      const space = bySubject.get(visit.subject);
      if (!space) continue;
      const info = await this.#o.api.spaceMeetingInfo(space.id);
      await this.#o.store.saveMeetingLink({
        visitId: visit.id,
        orgId: visit.orgId,
        roomId: space.id,
        meetingId: meetingSeriesId(info.meetingId),
        ...(info.meetingNumber ? { meetingNumber: info.meetingNumber } : {}),
        createdAt: now,
      });
      this.#unknown.delete(meetingSeriesId(info.meetingId));
      mapped += 1;
    }
    this.stats.mapped += mapped;
    return mapped;
  }

  /**
   * One round of polling, where Webex has no meeting webhooks: map what is new, then ask for the
   * participants of at most `poll.visits` visits in their window and record who came and went.
   * A participant seen before and missing now has left.
   */
  async pollOnce(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    await this.mapVisits();
    const now = this.#now();
    const visits = this.#o.poll?.visits ?? DEFAULT_POLL.visits;
    for (const { visit, meeting } of await this.#o.store.mappedMeetingVisits(this.#o.sources, now, visits)) {
      const seen = await this.#o.api.listMeetingParticipants(meeting.meetingId);
      const known = new Map(
        (await this.#o.store.listMeetingParticipants(visit.id)).map((p) => [p.participantId, p]),
      );
      const fact = (participantId: string, role: 'host' | 'guest', state: 'joined' | 'left', at: number) =>
        this.#o.visits.recordMeetingFact(visit, {
          kind: 'participant',
          participantId,
          role,
          state,
          at,
          via: 'poll',
        });
      for (const p of seen) {
        const role = roleOf(p);
        const gone = p.state === 'end' || p.leftTime !== undefined;
        const before = known.get(p.id);
        const wasPresent = before !== undefined && before.leftAt === undefined;
        // Someone who came and went between two rounds still came: joined, then left.
        if (!wasPresent && (!gone || before === undefined))
          await fact(p.id, role, 'joined', secondsOf(p.joinedTime, now));
        if (gone) await fact(p.id, role, 'left', secondsOf(p.leftTime, now));
        known.delete(p.id);
      }
      // Webex no longer lists them: they left.
      for (const p of known.values())
        if (p.leftAt === undefined) await fact(p.participantId, p.role, 'left', now);
    }
    this.stats.polls += 1;
  }

  /** Starts polling (mode `poll` only): a round now and every `poll.seconds`. */
  start(): void {
    if (this.mode === 'poll') this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.#polling?.catch(() => {});
  }
}

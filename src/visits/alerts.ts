/**
 * "A patient is waiting": when a guest waits and no host has joined after a delay, the host who
 * asked for the visit gets one 1:1 Webex message from the bot, per wait. The message names the
 * visit (escaped) and carries the host link, never a guest link.
 *
 * Each alert is a stored job, written in the transaction that starts the wait (due after the
 * delay, deduplicated per visit and wait), so it survives a crash or a restart and runs once across
 * instances; when it runs it checks again and sends nothing when a
 * host joined meanwhile, the wait ended, or another wait began.
 */
import { escapeMarkdown } from '../domain/markdown.js';
import { isoSeconds, nowSeconds } from '../domain/time.js';
import { visitState } from '../domain/visit-state.js';
import type { MessageTarget, WebexApi } from '../domain/webex.js';
import type { JobHandler } from '../jobs/runner.js';
import { PermanentJobError } from '../jobs/runner.js';
import type { NewJob, Store, VisitLinkRecord, VisitRecord } from '../store/types.js';
import type { WaitListener } from './arrivals.js';

export const WAITING_ALERT_JOB = 'visit.waiting_alert';

/** Default seconds a guest waits before the host is told (WAITING_ALERT_SECONDS). */
export const DEFAULT_WAITING_ALERT_SECONDS = 60;

/** The stored form of an alert target: `email:<address>` or `person:<Webex person id>`. */
export function alertTarget(to: { email: string } | { personId: string }): string {
  return 'email' in to ? `email:${to.email}` : `person:${to.personId}`;
}

function messageTarget(stored: string | undefined): MessageTarget | undefined {
  if (stored?.startsWith('email:')) return { toPersonEmail: stored.slice('email:'.length) };
  if (stored?.startsWith('person:')) return { toPersonId: stored.slice('person:'.length) };
  return undefined;
}

/** The message: the visit's (escaped) subject, since when the guest waits, the first host link. */
function waitingMessage(visit: VisitRecord, hostUrl: string): string {
  return [
    `**A guest is waiting: ${escapeMarkdown(visit.subject)}**`,
    '',
    `Waiting since ${isoSeconds(visit.waitingSince ?? visit.createdAt)} and no host has joined yet.`,
    '',
    `Join with your host link: ${hostUrl}`,
  ].join('\n');
}

export interface WaitingAlertsOptions {
  store: Store;
  webex: WebexApi;
  /** Seconds after the wait starts; 0: no alerts. */
  delaySeconds: number;
  /** The URL a person is given for a link (a gateway visit's is this service's); default short, else long. */
  urlOf?: (link: VisitLinkRecord) => string;
  now?: () => number;
}

export class WaitingAlerts implements WaitListener {
  readonly #o: WaitingAlertsOptions;
  readonly #now: () => number;

  constructor(options: WaitingAlertsOptions) {
    this.#o = options;
    this.#now = options.now ?? nowSeconds;
  }

  /** A wait started: its alert, due after the delay (one per visit and wait), stored with the wait. */
  jobFor(visit: VisitRecord): NewJob | undefined {
    if (this.#o.delaySeconds <= 0 || !messageTarget(visit.alertTo)) return undefined;
    const wait = visit.waits ?? 0;
    return {
      type: WAITING_ALERT_JOB,
      payload: { orgId: visit.orgId, visitId: visit.id, wait },
      runAt: this.#now() + this.#o.delaySeconds,
      maxAttempts: 5,
      dedupKey: `waiting-alert:${visit.id}:${wait}`,
    };
  }

  handler(): JobHandler {
    return async (payload) => {
      const orgId = payload['orgId'];
      const visitId = payload['visitId'];
      const wait = payload['wait'];
      if (typeof orgId !== 'string' || typeof visitId !== 'string' || typeof wait !== 'number')
        throw new PermanentJobError('waiting alert without its visit');
      const visit = await this.#o.store.getVisit(orgId, visitId);
      // The host joined meanwhile, the guest left, the window closed, or another wait began.
      if (!visit || visitState(visit, this.#now()) !== 'waiting' || (visit.waits ?? 0) !== wait) return;
      const target = messageTarget(visit.alertTo);
      const host = (await this.#o.store.getVisitLinks(visit.id)).find((l) => l.role === 'host');
      if (!target || !host) return;
      const url = this.#o.urlOf?.(host) ?? host.shortUrl ?? host.longUrl;
      await this.#o.webex.sendMessage(target, waitingMessage(visit, url));
      await this.#o.store.appendEvent({
        orgId,
        visitId,
        at: this.#now(),
        actor: 'system',
        type: 'alert.sent',
        data: { to: 'host', wait },
      });
    };
  }
}

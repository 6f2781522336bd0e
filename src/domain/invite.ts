/**
 * The calendar invitation sent with a notice (RFC 5545 through ical-generator): METHOD:REQUEST
 * for a new or moved visit, METHOD:CANCEL when it is cancelled. The window is written in UTC
 * (`DTSTART:…Z`: every client shows it in its own zone, with no VTIMEZONE to get wrong); the
 * recipient's zone is named in `X-WR-TIMEZONE` and the description gives the times in it.
 *
 * One event per (visit, recipient) with a stable `UID`; `SEQUENCE` is the number of times the
 * visit's schedule changed (`inviteSequence`), so a reschedule is one more `visit.rescheduled`
 * event and a REQUEST with the same UID, and a cancel a CANCEL one higher.
 */
import ical, {
  ICalAttendeeRole,
  ICalAttendeeStatus,
  ICalCalendarMethod,
  ICalEventStatus,
} from 'ical-generator';

export interface InviteInput {
  method: 'REQUEST' | 'CANCEL';
  uid: string;
  sequence: number;
  /** Epoch seconds. */
  start: number;
  end: number;
  /** When this version of the invitation was made (DTSTAMP), epoch seconds. */
  stamp: number;
  /** The recipient's IANA zone. */
  timeZone: string;
  summary: string;
  description: string;
  /** The link; omitted in a cancel. */
  url?: string;
  organizer: { name: string; email: string };
  attendee: { name?: string; email: string };
}

/** `<visit>.<role>.<index>@instant-connect`: the same for every notice to that link's recipient. */
export function inviteUid(visitId: string, role: string, index: number): string {
  return `${visitId}.${role}.${index}@instant-connect`;
}

/**
 * The SEQUENCE of the next invitation: one per schedule change so far (`visit.rescheduled`
 * events), and one more for a cancel.
 */
export function inviteSequence(eventTypes: readonly string[], method: 'REQUEST' | 'CANCEL'): number {
  const changes = eventTypes.filter((t) => t === 'visit.rescheduled').length;
  return changes + (method === 'CANCEL' ? 1 : 0);
}

export function invitation(input: InviteInput): string {
  const calendar = ical({
    prodId: { company: 'instant-connect', product: 'visits', language: 'EN' },
    method: input.method === 'CANCEL' ? ICalCalendarMethod.CANCEL : ICalCalendarMethod.REQUEST,
    x: [{ key: 'X-WR-TIMEZONE', value: input.timeZone }],
  });
  calendar.createEvent({
    id: input.uid,
    sequence: input.sequence,
    start: new Date(input.start * 1000),
    end: new Date(input.end * 1000),
    stamp: new Date(input.stamp * 1000),
    summary: input.summary,
    description: input.description,
    ...(input.url ? { url: input.url } : {}),
    status: input.method === 'CANCEL' ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
    organizer: { name: input.organizer.name, email: input.organizer.email },
    attendees: [
      {
        email: input.attendee.email,
        ...(input.attendee.name ? { name: input.attendee.name } : {}),
        role: ICalAttendeeRole.REQ,
        status: ICalAttendeeStatus.NEEDSACTION,
        rsvp: false,
      },
    ],
  });
  return calendar.toString();
}

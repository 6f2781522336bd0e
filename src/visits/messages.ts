/**
 * The messages that carry a visit's links, posted by the bot and by the trigger's `notify`. The
 * subject is the caller's text: it is escaped (`escapeMarkdown`), so the links below are the only
 * links in the message.
 */

import { escapeMarkdown } from '../domain/markdown.js';
import { handedUrl as urlOf, type VisitView } from './service.js';

export function hostMessage(visit: VisitView): string {
  const host = visit.hosts[0];
  return [
    `**Your Instant Connect visit: ${escapeMarkdown(visit.subject)}**`,
    '',
    `Start it with your host link: ${host ? urlOf(host) : '(none)'}`,
    '',
    `Window: ${visit.start} to ${visit.end} (UTC). Guests wait in the lobby until you join.`,
  ].join('\n');
}

export function guestMessage(visit: VisitView): string {
  const links = visit.guests.map((g, i) => `- Guest ${i + 1}: ${urlOf(g)}`);
  return [
    `**Join the visit: ${escapeMarkdown(visit.subject)}**`,
    '',
    ...links,
    '',
    `Open from ${visit.start} (UTC).`,
  ].join('\n');
}

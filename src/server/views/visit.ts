/**
 * The visit page of the project's broker: who you are, the visit's state, and the lobby. The
 * server renders the current state (readable without JavaScript); /assets/visit.js joins, follows
 * the live stream and switches sections. No token and no secret reaches the HTML: only a ticket.
 */
import { isoSeconds } from '../../domain/time.js';
import { escapeHtml, page } from '../../util/pages.js';
import type { LiveStatus } from '../../visits/live.js';

const time = (s: number) => `<time data-local datetime="${isoSeconds(s)}">${isoSeconds(s)}</time>`;

export function visitPage(status: LiveStatus, ticket: string): string {
  const role = status.role === 'host' ? 'host' : 'guest';
  const section = (name: string, visible: boolean, html: string) =>
    `<section data-section="${name}"${visible ? '' : ' class="hidden"'} aria-live="polite">${html}</section>`;
  const going = status.state === 'open' || status.state === 'waiting' || status.state === 'live';
  // Let in while a host is here; back in the lobby when the host has gone.
  const admitted = status.admitted && status.state === 'live' && status.hostsPresent > 0;
  const waiting = role === 'guest' && going && !admitted;
  const body = `
<div data-ticket="${escapeHtml(ticket)}" data-role="${role}" data-state="${status.state}">
<p class="state ${role === 'host' ? 'wait' : 'ok'}">You are ${role === 'host' ? 'the host' : 'a guest'}</p>
<h1>${escapeHtml(status.subject)}</h1>
<p data-field="valid"${going ? '' : ' class="hidden"'}><span class="state ok">Valid</span> until ${time(status.end)}.</p>
${section(
  'lobby',
  waiting,
  `<h2>Waiting for the host</h2><p><span class="state wait">Lobby</span> You will be let in as soon as the host joins. Keep this page open.</p>`,
)}
${section(
  'admitted',
  role === 'guest' && admitted,
  `<h2>You are in the visit</h2><p><span class="state ok">Live</span> The host has joined.</p>`,
)}
${section(
  'host',
  role === 'host' && going,
  `<h2>Your visit</h2><p><span class="state ok" data-field="state">${status.state === 'live' ? 'Live' : 'Starting…'}</span></p>
<p>Guests here: <strong data-field="guests">${status.guestsPresent}</strong></p>
<h3>Room devices</h3>
<ul class="log" data-field="devices">${
    status.devices.length === 0
      ? '<li>No devices for this visit.</li>'
      : status.devices.map((d) => `<li>${escapeHtml(d.uri)}: ${d.status}</li>`).join('')
  }</ul>
<p><button type="button" class="danger" data-action="end">End visit for all</button></p>`,
)}
${section(
  'left',
  false,
  `<h2>You left the visit</h2><p>You can rejoin while your link is valid.</p><p><button type="button" data-action="rejoin">Rejoin</button></p>`,
)}
${section('ended', status.state === 'ended', `<h2>This visit has ended</h2><p><span class="state bad">Ended</span> Thank you.</p>`)}
${section('expired', status.state === 'expired', `<h2>This link has expired</h2><p><span class="state bad">Expired</span> Ask for a new link.</p>`)}
${section('cancelled', status.state === 'cancelled', `<h2>This visit was cancelled</h2><p><span class="state bad">Cancelled</span> Its links no longer work.</p>`)}
<p data-section="leave"${role === 'guest' && going ? '' : ' class="hidden"'}><button type="button" class="secondary" data-action="leave">Leave</button></p>
<p class="hidden" role="alert" data-field="error"></p>
</div>`;
  return page(`${status.subject}: ${role}`, body, { scripts: ['visit.js'] });
}

/** Before the window opens: when, in the visitor's own time zone, with a countdown. */
export function notYetPage(opens: number | undefined): string {
  const when = opens === undefined ? 'later' : time(opens);
  return page(
    'Not open yet',
    `<h1>This visit has not started yet</h1>
<p><span class="state wait">Not yet valid</span> The link opens at ${when}.</p>
${opens === undefined ? '' : `<p>Opens in <strong data-countdown="${opens}">…</strong>. This page reloads by itself.</p>`}`,
    { scripts: ['visit.js'] },
  );
}

/**
 * The staff pages, rendered on the server. Everything works with plain forms; /assets/staff.js
 * adds copy buttons, the browser's time zone and local times. No inline script or style (CSP).
 */
import { TABS } from '../../contract/schemas.js';
import { UNFINISHED, type VisitState } from '../../domain/visit-state.js';
import type { EventRecord } from '../../store/types.js';
import { escapeHtml as h, page } from '../../util/pages.js';
import type { LinkDeliveryList, VisitView } from '../../visits/service.js';
import type { FieldName, FormErrors, VisitFormValues } from './form.js';
import type { StaffSession } from './sessions.js';

export type Tab = (typeof TABS)[number];
export const TAB_STATES: Record<Tab, VisitState[]> = {
  upcoming: ['scheduled', 'open', 'waiting'],
  live: ['live'],
  past: ['ended', 'no_show', 'expired'],
  cancelled: ['cancelled'],
};
const TAB_LABELS: Record<Tab, string> = {
  upcoming: 'Upcoming',
  live: 'Live',
  past: 'Past',
  cancelled: 'Cancelled',
};

/** Visits that can still be cancelled. */
export const CANCELLABLE: ReadonlySet<VisitState> = UNFINISHED;

type Nav = 'new' | 'visits' | undefined;

function header(session: StaffSession | undefined, current: Nav): string {
  const item = (href: string, label: string, key: Nav) =>
    `<li><a href="${href}"${current === key ? ' aria-current="page"' : ''}>${label}</a></li>`;
  const nav = session
    ? `<nav aria-label="Staff">
<ul>
${item('/', 'New visit', 'new')}
${item('/visits', 'Visits', 'visits')}
</ul>
<form method="post" action="/session/end" class="sign-out">
${csrfField(session)}
<button type="submit" class="secondary">Sign out</button>
</form>
</nav>`
    : '';
  return `<a class="skip-link" href="#main">Skip to content</a>
<header class="staff-bar">
<p class="brand">instant-connect <span>staff</span></p>
${nav}
</header>
`;
}

function staffPage(
  title: string,
  body: string,
  session: StaffSession | undefined,
  current: Nav = undefined,
): string {
  return page(`${title} · instant-connect`, body, {
    brokerNote: false,
    styles: ['staff.css'],
    scripts: ['staff.js'],
    header: header(session, current),
  });
}

const csrfField = (session: StaffSession) => `<input type="hidden" name="_csrf" value="${h(session.csrf)}">`;

const dateFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
});

/** An instant, in UTC on the server; staff.js shows it in the browser's zone. */
function time(iso: string): string {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
  return `<time datetime="${h(iso)}" data-local>${h(text)}</time>`;
}

const epochIso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const STATE_CLASS: Record<VisitState, string> = {
  scheduled: 'wait',
  open: 'ok',
  waiting: 'wait',
  live: 'ok',
  ended: 'muted',
  no_show: 'bad',
  expired: 'muted',
  cancelled: 'bad',
};

/** A state as people read it (`no_show` → "no show (no host)"); public/staff.js says the same. */
export function stateLabel(state: VisitState, missing?: readonly ('host' | 'guest')[]): string {
  if (state !== 'no_show') return state;
  if (!missing || missing.length === 0) return 'no show';
  return missing.length === 2 ? 'no show (nobody came)' : `no show (no ${missing[0]})`;
}

/** A visit's state badge; `data-visit` lets public/staff.js update it live. */
const stateBadge = (state: VisitState, visit?: Pick<VisitView, 'id' | 'missing'>) =>
  `<span class="state ${STATE_CLASS[state]}" data-state="${h(state)}"${visit ? ` data-visit="${h(visit.id)}"` : ''}>${h(stateLabel(state, visit?.missing))}</span>`;

const windowOf = (visit: VisitView) => `${time(visit.start)} to ${time(visit.end)}`;

// ---------------------------------------------------------------- sign in

export function signInPage(error?: string): string {
  const described = error
    ? ' aria-describedby="key-error" aria-invalid="true"'
    : ' aria-describedby="key-hint"';
  return staffPage(
    'Sign in',
    `<h1>Sign in</h1>
${error ? `<div class="error-summary" role="alert" tabindex="-1" data-error-summary><p id="key-error">${h(error)}</p></div>` : ''}
<form method="post" action="/session" class="card">
<label for="key">API key</label>
<p class="hint" id="key-hint">The key starts with <code>ick_</code>. Make one with <code>npx instant-connect keys create --name staff</code>.</p>
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" autocapitalize="off" required${described}>
<p><button type="submit">Sign in</button></p>
</form>
<p class="hint">You stay signed in for 8 hours on this browser, or until you sign out.</p>`,
    undefined,
  );
}

// ---------------------------------------------------------------- new visit

function fieldAria(name: FieldName, errors: FormErrors | undefined, hint?: string): string {
  const ids = [hint, errors?.fields[name] ? `${name}-error` : undefined].filter(Boolean);
  const described = ids.length > 0 ? ` aria-describedby="${ids.join(' ')}"` : '';
  return `${described}${errors?.fields[name] ? ' aria-invalid="true"' : ''}`;
}

function fieldError(name: FieldName, errors: FormErrors | undefined): string {
  const messages = errors?.fields[name];
  if (!messages) return '';
  return `<p class="field-error" id="${name}-error">${messages.map((m) => h(m)).join('<br>')}</p>`;
}

function errorSummary(errors: FormErrors | undefined, title: string): string {
  if (!errors || errors.summary.length === 0) return '';
  const items = errors.summary
    .map((e) => (e.field ? `<li><a href="#${e.field}">${h(e.message)}</a></li>` : `<li>${h(e.message)}</li>`))
    .join('\n');
  return `<div class="error-summary" role="alert" tabindex="-1" data-error-summary>
<h2>${h(title)}</h2>
<ul>
${items}
</ul>
</div>`;
}

function visitForm(
  session: StaffSession,
  values: VisitFormValues,
  errors: FormErrors | undefined,
  gatewayOffered: boolean,
): string {
  const field = (name: FieldName) => ({ aria: (hint?: string) => fieldAria(name, errors, hint) });
  const invalid = (name: FieldName) => (errors?.fields[name] ? ' invalid' : '');
  const checkbox = (
    name: 'shortUrls' | 'hostLogin' | 'gateway',
    label: string,
    hint: string,
    checked: boolean,
  ) =>
    `<div class="field check${invalid(name)}">
<input type="checkbox" id="${name}" name="${name}" value="on"${checked ? ' checked' : ''}${field(name).aria(`${name}-hint`)}>
<label for="${name}">${label}</label>
<p class="hint" id="${name}-hint">${hint}</p>
${fieldError(name, errors)}
</div>`;
  return `<form method="post" action="/visits" class="card visit-form" novalidate${errors ? ' data-has-errors' : ''}>
${csrfField(session)}
<input type="hidden" name="timeZone" id="timeZone" value="${h(values.timeZone)}" data-browser-time-zone>
${errorSummary(errors, 'The visit was not created')}
<div class="field${invalid('subject')}">
<label for="subject">Subject <span class="optional">(optional)</span></label>
<p class="hint" id="subject-hint">It names the visit's space. Leave it empty and a unique one is made.</p>
<input id="subject" name="subject" type="text" maxlength="256" autocomplete="off" value="${h(values.subject)}" placeholder="Left empty, a unique subject is made"${field('subject').aria('subject-hint')}>
${fieldError('subject', errors)}
</div>
<div class="row">
<div class="field${invalid('start')}">
<label for="start">Start</label>
<p class="hint" id="start-hint">In your time zone (<span data-time-zone-name>${h(values.timeZone || 'UTC')}</span>). Links open at this time.</p>
<input id="start" name="start" type="datetime-local" value="${h(values.start)}"${errors ? '' : ' data-default-now'}${field('start').aria('start-hint')}>
${fieldError('start', errors)}
</div>
<div class="field${invalid('duration')}">
<label for="duration">Duration</label>
<p class="hint" id="duration-hint">Minutes (30), or a duration such as 1h30m. Links stop working when it ends.</p>
<input id="duration" name="duration" type="text" maxlength="32" autocomplete="off" spellcheck="false" value="${h(values.duration)}"${field('duration').aria('duration-hint')}>
${fieldError('duration', errors)}
</div>
</div>
<div class="row">
<div class="field${invalid('hosts')}">
<label for="hosts">Hosts</label>
<p class="hint" id="hosts-hint">Host links start the visit.</p>
<input id="hosts" name="hosts" type="number" min="0" max="500" step="1" inputmode="numeric" value="${h(values.hosts)}"${field('hosts').aria('hosts-hint')}>
${fieldError('hosts', errors)}
</div>
<div class="field${invalid('guests')}">
<label for="guests">Guests</label>
<p class="hint" id="guests-hint">Guests wait in the lobby until a host joins.</p>
<input id="guests" name="guests" type="number" min="0" max="500" step="1" inputmode="numeric" value="${h(values.guests)}"${field('guests').aria('guests-hint')}>
${fieldError('guests', errors)}
</div>
</div>
<div class="field${invalid('devices')}">
<label for="devices">Room devices <span class="optional">(optional)</span></label>
<p class="hint" id="devices-hint">One SIP address a line, such as <code>room@example.room.wbx2.com</code>. They are called when a host joins.</p>
<textarea id="devices" name="devices" rows="3" spellcheck="false" autocapitalize="off"${field('devices').aria('devices-hint')}>${h(values.devices)}</textarea>
${fieldError('devices', errors)}
</div>
<div class="field${invalid('recipients')}">
<label for="recipients">Send the links by email <span class="optional">(optional)</span></label>
<p class="hint" id="recipients-hint">One person a line: <code>guest ana@example.com</code> or <code>host dr@clinic.example</code> (an address alone is a guest). Each gets their link and a calendar invitation when email is set up on the server.</p>
<textarea id="recipients" name="recipients" rows="2" spellcheck="false" autocapitalize="off"${field('recipients').aria('recipients-hint')}>${h(values.recipients)}</textarea>
${fieldError('recipients', errors)}
</div>
<div class="field${invalid('vertical')}">
<label for="vertical">Kind of visit</label>
<select id="vertical" name="vertical"${field('vertical').aria()}>
<option value="hc"${values.vertical === 'hc' ? ' selected' : ''}>Healthcare (hc)</option>
<option value="gen"${values.vertical === 'gen' ? ' selected' : ''}>General (gen)</option>
</select>
${fieldError('vertical', errors)}
</div>
<div class="field${invalid('alertTo')}">
<label for="alertTo">Tell when a guest waits <span class="optional">(optional)</span></label>
<p class="hint" id="alertTo-hint">An email address. When a guest waits and no host has joined, the bot sends this person the host link in Webex.</p>
<input id="alertTo" name="alertTo" type="email" maxlength="254" autocomplete="email" spellcheck="false" autocapitalize="off" value="${h(values.alertTo)}"${field('alertTo').aria('alertTo-hint')}>
${fieldError('alertTo', errors)}
</div>
${checkbox('shortUrls', 'Short links', 'Short links are easier to send by text message.', values.shortUrls)}
${checkbox('hostLogin', 'Hosts sign in to Webex', 'Host links ask the host to sign in.', values.hostLogin)}
${
  gatewayOffered
    ? checkbox(
        'gateway',
        'Links through this service',
        "People get links on this site that lead on to Webex. Cancelling stops every link nobody has opened yet, and you see which were opened. Unchecked: Webex's own links, which cannot be stopped.",
        values.gateway,
      )
    : ''
}
<p><button type="submit">Create visit</button></p>
</form>`;
}

export function dashboardPage(
  session: StaffSession,
  values: VisitFormValues,
  errors: FormErrors | undefined,
  upcoming: VisitView[],
  banner?: string,
  gatewayOffered = false,
): string {
  const soon =
    upcoming.length === 0
      ? '<p>No upcoming visits.</p>'
      : `<ul class="soon">${upcoming
          .map(
            (v) =>
              `<li><a href="/visits/${h(v.id)}">${h(v.subject)}</a> ${stateBadge(v.state, v)} <span class="window">${windowOf(v)}</span></li>`,
          )
          .join('\n')}</ul>`;
  return staffPage(
    errors ? 'New visit (not created)' : 'New visit',
    `<h1>New visit</h1>
${banner ? `<div class="error-summary" role="alert" tabindex="-1" data-error-summary><p>${h(banner)}</p></div>` : ''}
${visitForm(session, values, errors, gatewayOffered)}
<section aria-labelledby="soon-heading">
<h2 id="soon-heading">Coming up</h2>
${soon}
<p><a href="/visits">All visits</a></p>
</section>`,
    session,
    'new',
  );
}

// ---------------------------------------------------------------- list

export function listPage(
  session: StaffSession,
  tab: Tab,
  result: { items: VisitView[]; total: number },
  pageNumber: number,
  pageSize: number,
): string {
  const tabs = TABS.map(
    (t) =>
      `<li><a href="/visits?tab=${t}"${t === tab ? ' aria-current="page"' : ''}>${TAB_LABELS[t]}</a></li>`,
  ).join('\n');
  const pages = Math.max(1, Math.ceil(result.total / pageSize));
  const rows = result.items
    .map(
      (v) => `<tr>
<td data-label="Subject"><a href="/visits/${h(v.id)}">${h(v.subject)}</a></td>
<td data-label="State">${stateBadge(v.state, v)}</td>
<td data-label="Window">${windowOf(v)}</td>
<td data-label="Hosts" class="num">${v.counts.hosts}</td>
<td data-label="Guests" class="num">${v.counts.guests}</td>
</tr>`,
    )
    .join('\n');
  const table =
    result.items.length === 0
      ? `<p>No ${TAB_LABELS[tab].toLowerCase()} visits.</p>`
      : `<table class="visits">
<caption>${TAB_LABELS[tab]} visits, page ${pageNumber} of ${pages} (${result.total} in all)</caption>
<thead><tr><th scope="col">Subject</th><th scope="col">State</th><th scope="col">Window</th><th scope="col" class="num">Hosts</th><th scope="col" class="num">Guests</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  const link = (n: number, label: string, rel: string) =>
    `<a href="/visits?tab=${tab}&amp;page=${n}" rel="${rel}">${label}</a>`;
  const pager =
    pages > 1
      ? `<nav aria-label="Pages" class="pager">
${pageNumber > 1 ? link(pageNumber - 1, 'Previous page', 'prev') : ''}
<span>Page ${pageNumber} of ${pages}</span>
${pageNumber < pages ? link(pageNumber + 1, 'Next page', 'next') : ''}
</nav>`
      : '';
  return staffPage(
    `${TAB_LABELS[tab]} visits`,
    `<h1>Visits</h1>
<nav aria-label="Visits by state" class="tabs"><ul>
${tabs}
</ul></nav>
${table}
${pager}
<p><a class="button" href="/">New visit</a></p>`,
    session,
    'visits',
  );
}

// ---------------------------------------------------------------- one visit

export interface LinkBlock {
  label: string;
  url: string;
  longUrl?: string;
  forcedLoginUrl?: string;
  /** Inline SVG from the qrcode library; absent past the page's limit. */
  qr?: string;
}

function linkBlock(block: LinkBlock, id: string, role: 'host' | 'guest'): string {
  const more = [
    block.longUrl && block.longUrl !== block.url
      ? `<li>Long link: <a href="${h(block.longUrl)}" rel="noopener noreferrer" target="_blank">${h(block.longUrl)}</a></li>`
      : '',
    block.forcedLoginUrl
      ? `<li>Link that asks for a Webex sign-in: <a href="${h(block.forcedLoginUrl)}" rel="noopener noreferrer" target="_blank">${h(block.forcedLoginUrl)}</a></li>`
      : '',
  ].join('');
  return `<article class="link-card ${role}" aria-labelledby="${id}-label">
<h3 id="${id}-label">${h(block.label)}</h3>
<div class="link-row">
<input type="text" id="${id}" class="url" readonly value="${h(block.url)}" aria-labelledby="${id}-label" spellcheck="false">
<button type="button" class="copy" data-copy="${h(block.url)}" data-copy-label="${h(block.label)}" hidden><span class="copy-text">Copy</span><span class="visually-hidden"> ${h(block.label.toLowerCase())}</span></button>
<a class="button secondary" href="${h(block.url)}" target="_blank" rel="noopener noreferrer">Open<span class="visually-hidden"> ${h(block.label.toLowerCase())} (in a new tab)</span></a>
</div>
${block.qr ? `<figure class="qr">${block.qr}<figcaption>Scan to open ${h(block.label.toLowerCase())}</figcaption></figure>` : ''}
${more ? `<details><summary>Other forms of this link</summary><ul>${more}</ul></details>` : ''}
</article>`;
}

function eventLine(event: EventRecord): string {
  const data = Object.entries(event.data)
    .map(
      ([k, v]) =>
        `<span class="kv">${h(k)}: ${h(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}</span>`,
    )
    .join(' ');
  return `<li>${time(epochIso(event.at))} <strong>${h(EVENT_LABELS[event.type] ?? event.type)}</strong> <code>${h(event.type)}</code> by ${h(event.actor)}${data ? `<br>${data}` : ''}</li>`;
}

const EVENT_LABELS: Record<string, string> = {
  'visit.created': 'Created',
  'visit.cancelled': 'Cancelled',
  'visit.links_added': 'Links added',
  'visit.started': 'Started',
  'visit.waiting': 'Guest waiting',
  'visit.live': 'Live',
  'visit.ended': 'Ended',
  'visit.no_show': 'No-show',
  'alert.sent': 'Host alerted',
  'link.delivered': 'Link sent',
  'link.delivery_failed': 'Link not sent',
};

/** Who each link goes to, and every attempt to send it (nothing when the visit has no recipients). */
function recipientsSection(
  session: StaffSession,
  visit: VisitView,
  deliveries: LinkDeliveryList['items'],
): string {
  const recipients = visit.recipients ?? [];
  if (recipients.length === 0 && deliveries.length === 0) return '';
  // A visit that is not over can send a link again (a CSRF-checked form, no script).
  const resend = (r: { role: string; index: number }) =>
    CANCELLABLE.has(visit.state)
      ? `<form method="post" action="/visits/${h(visit.id)}/links/${h(r.role)}/${r.index}/resend" class="inline">${csrfField(session)}<button type="submit" class="secondary" aria-label="Resend the ${h(r.role)} link ${r.index + 1}">Resend</button></form>`
      : '';
  const who = recipients
    .map(
      (r) =>
        `<tr><td>${h(r.role)} ${r.index + 1}</td><td>${h(r.name ?? '')}</td><td>${h(r.email ?? r.phone ?? '')}</td><td>${h(r.channel ?? (r.email ? 'email' : 'sms'))}</td><td>${h(r.language ?? '')}</td><td>${h(r.timeZone ?? '')}</td><td>${resend(r)}</td></tr>`,
    )
    .join('\n');
  const attempts = deliveries
    .map(
      (d) =>
        `<li>${time(d.at)} <strong class="delivery-${h(d.status)}">${h(d.status)}</strong> ${h(d.role)} ${d.index + 1} by ${h(d.channel)} to ${h(d.to)} (${h(d.trigger)}, attempt ${d.attempt}, by ${h(d.actor)})${d.error ? `<br><span class="kv">${h(d.error)}</span>` : ''}</li>`,
    )
    .join('\n');
  return `<section aria-labelledby="recipients-heading">
<h2 id="recipients-heading">Recipients</h2>
<table class="recipients"><thead><tr><th scope="col">Link</th><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Channel</th><th scope="col">Language</th><th scope="col">Zone</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>
${who}
</tbody></table>
<h3>Deliveries</h3>
${attempts ? `<ol class="log deliveries">\n${attempts}\n</ol>` : '<p>Nothing sent yet.</p>'}
</section>`;
}

export function visitPage(
  session: StaffSession,
  visit: VisitView,
  links: { hosts: LinkBlock[]; guests: LinkBlock[] },
  events: EventRecord[],
  qrLimited?: number,
  deliveries: LinkDeliveryList['items'] = [],
): string {
  const hostHeading = visit.hosts.length === 1 ? 'Host link' : 'Host links';
  const guestHeading = visit.guests.length === 1 ? 'Guest link' : 'Guest links';
  const devices =
    visit.devices.length > 0
      ? `<dt>Devices</dt><dd><ul class="plain">${visit.devices.map((d) => `<li><code>${h(d)}</code></li>`).join('')}</ul></dd>`
      : '';
  const cancel = CANCELLABLE.has(visit.state)
    ? `<p><a class="button danger" href="/visits/${h(visit.id)}/cancel">Cancel visit</a></p>`
    : '';
  return staffPage(
    visit.subject,
    `<h1><span class="visually-hidden">Visit: </span>${h(visit.subject)}</h1>
<dl class="facts">
<dt>State</dt><dd>${stateBadge(visit.state, visit)}</dd>
<dt>Window</dt><dd>${windowOf(visit)}</dd>
<dt>Kind</dt><dd>${visit.vertical === 'hc' ? 'Healthcare' : 'General'} (${h(visit.vertical)})</dd>
<dt>Links from</dt><dd>${visit.source === 'local' ? 'this server (local broker)' : `Cisco (${h(visit.source)})`}</dd>
${devices}
</dl>
${cancel}
<section class="links links-host" aria-labelledby="hosts-heading">
<h2 id="hosts-heading">${hostHeading} <span class="role-tag">Host</span></h2>
<p class="hint">For staff only: a host joining starts the visit. Do not send it to guests.</p>
${links.hosts.map((b, i) => linkBlock(b, `host-${i + 1}`, 'host')).join('\n') || '<p>No host links.</p>'}
</section>
<section class="links links-guest" aria-labelledby="guests-heading">
<h2 id="guests-heading">${guestHeading}</h2>
<p class="hint">Send one to each guest.</p>
${links.guests.map((b, i) => linkBlock(b, `guest-${i + 1}`, 'guest')).join('\n') || '<p>No guest links.</p>'}
</section>
${qrLimited ? `<p class="hint">QR codes are shown for the first ${qrLimited} links.</p>` : ''}
<p class="visually-hidden" aria-live="polite" role="status" id="copy-status"></p>
${recipientsSection(session, visit, deliveries)}
<section aria-labelledby="events-heading">
<h2 id="events-heading">Event log</h2>
<ol class="log events">
${events.map(eventLine).join('\n')}
</ol>
</section>
<p><a href="/visits">All visits</a></p>`,
    session,
    'visits',
  );
}

export function cancelPage(session: StaffSession, visit: VisitView): string {
  const effect =
    visit.source === 'local'
      ? 'Its links stop working at once, for hosts and guests.'
      : "Its links come from Cisco's broker, which offers no way to revoke a link. The visit is marked cancelled here and its subject is re-issued with a window that is already over, which is the best that can be done; links already sent may still open until their window ends.";
  return staffPage(
    `Cancel ${visit.subject}?`,
    `<h1>Cancel this visit?</h1>
<dl class="facts">
<dt>Subject</dt><dd>${h(visit.subject)}</dd>
<dt>State</dt><dd>${stateBadge(visit.state)}</dd>
<dt>Window</dt><dd>${windowOf(visit)}</dd>
<dt>Links</dt><dd>${visit.counts.hosts} host, ${visit.counts.guests} guest</dd>
</dl>
<p>${effect} This cannot be undone.</p>
<form method="post" action="/visits/${h(visit.id)}/cancel" class="actions">
${csrfField(session)}
<button type="submit" class="danger">Yes, cancel the visit</button>
<a class="button secondary" href="/visits/${h(visit.id)}">No, keep it</a>
</form>`,
    session,
    'visits',
  );
}

// ---------------------------------------------------------------- messages

export function messagePage(
  session: StaffSession | undefined,
  title: string,
  message: string,
  back: { href: string; label: string } = { href: '/', label: 'Back to the staff page' },
): string {
  return staffPage(
    title,
    `<h1>${h(title)}</h1>
<p>${h(message)}</p>
<p><a href="${h(back.href)}">${h(back.label)}</a></p>`,
    session,
  );
}

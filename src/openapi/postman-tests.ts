/**
 * What the Postman collection runs: the order of its requests (each answer feeds the next: the
 * links give `data` and `code`, the visit page gives `ticket`, a new visit gives `visit-id`; the
 * cancellation comes last) and the test script of each request (`pm.test`: the documented status
 * and the shape of the JSON). The scripts run in Postman and in newman (`newman run`), and set
 * only collection variables, so an environment holds nothing but the broker's URL and the token.
 */

/** Operations left out of the collection, and why (said in the collection's description). */
export const LEFT_OUT: Record<string, string> = {
  liveEvents:
    '`GET /live/events` is a server-sent event stream that stays open while the visit lasts (a runner would never finish): follow it with `curl -N "{{mtg-broker-url}}/live/events?ticket=…"`',
  replayEventDelivery:
    '`POST /api/events/deliveries/{id}/replay` needs a delivery that was delivered or failed, so a receiver the run does not have: see `instant-connect events replay`',
  receiveWebexWebhook:
    '`POST /hooks/webex` is for Webex itself: its deliveries are signed with the webhook secret',
  receiveMeetingWebhook:
    "`POST /hooks/webex/meetings` is for Webex itself: its deliveries are signed with the meeting webhooks' secret",
  receiveTwilioStatus:
    "`POST /hooks/sms/twilio/status` is for Twilio itself: its callbacks are signed with the account's auth token",
  receiveTwilioInbound:
    "`POST /hooks/sms/twilio/inbound` is for Twilio itself: its messages are signed with the account's auth token",
};

/**
 * The run order, by operationId: links first, then what they open, the live visit they make (its
 * host ends it), the trigger, operations and documentation, and last the Visits folder, whose
 * visit is read, extended and then cancelled. Folders follow the order of their first request;
 * an operation missing here runs last in its folder, with the generic checks.
 */
export const RUN_ORDER = [
  'createLinks',
  'createLinksV1',
  'openShortLink',
  'openLinkPage',
  'getSpace',
  'postSpace',
  'getSpaceSlash',
  'postSpaceSlash',
  'liveJoin',
  'liveStatus',
  'liveLeave',
  'liveEnd',
  'triggerVisit',
  'health',
  'ready',
  'metrics',
  'openApiDocument',
  'docsPage',
  'asset',
  'createEventSubscription',
  'listEventSubscriptions',
  'getEventSubscription',
  'rotateEventSubscriptionSecret',
  'listEventDeliveries',
  'deleteEventSubscription',
  'createVisit',
  'listVisits',
  'getVisit',
  'addVisitLinks',
  'listVisitEvents',
  'listVisitDeliveries',
  'resendVisitLink',
  'revokeVisitLink',
  'cancelVisit',
] as const;

/** Requests that must see the redirect itself rather than follow it. */
export const NO_REDIRECTS = new Set(['openShortLink']);

/** The collection variables the scripts set, and which request sets each. */
export const RUN_VARIABLES: { key: string; description: string }[] = [
  { key: 'data', description: 'A host cipher: set by "Make host and guest links".' },
  { key: 'code', description: 'A short code: set by "Make host and guest links: With short links".' },
  { key: 'ticket', description: 'The visit page\'s ticket: set by "Open a long link (the visit page)".' },
  { key: 'visit-id', description: 'A visit of the Visits folder: set by "Make a visit".' },
  {
    key: 'subscription-id',
    description:
      'An outbound events subscription: set by "Subscribe a URL to visit events" (unsubscribed at the end of its folder).',
  },
];

const lines = (text: string): string[] =>
  text
    .replace(/^\n/, '')
    .replace(/\n\s*$/, '')
    .split('\n');

/** `pm.test` checking the status; the first line of every script. */
function statusTest(status: number): string {
  return `pm.test('status ${status}', () => pm.response.to.have.status(${status}));`;
}

/** Checks of the JSON body, in the sandbox's chai: `body` is the parsed answer. */
function jsonTest(title: string, body: string): string {
  return `pm.test(${JSON.stringify(title)}, () => {
  const body = pm.response.json();
${body
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
});`;
}

const VISIT_SHAPE = `pm.expect(body.id).to.match(/^vis_/);
pm.expect(body.subject).to.be.a('string').and.not.empty;
pm.expect(body.state).to.be.oneOf(['scheduled', 'open', 'waiting', 'live', 'ended', 'no_show', 'expired', 'cancelled']);
pm.expect(body.hosts).to.be.an('array').that.is.not.empty;
pm.expect(body.guests).to.be.an('array').that.is.not.empty;
for (const link of body.hosts.concat(body.guests)) pm.expect(link.longUrl).to.be.a('string').and.include('data=');
pm.expect(body.counts).to.have.keys('hosts', 'guests');`;

const LIVE_STATUS_SHAPE = `pm.expect(body.visitId).to.match(/^vis_/);
pm.expect(body.role).to.equal('host');
pm.expect(body.hostsPresent).to.be.a('number');
pm.expect(body.guestsPresent).to.be.a('number');
pm.expect(body.devices).to.be.an('array');`;

const SPACE = jsonTest(
  'who the link is: the host, a jose link, a space',
  `pm.expect(body.userIdentifier).to.equal('Host');
pm.expect(body.isHost).to.equal(true);
pm.expect(body.integrationType).to.equal('jose');
pm.expect(body.spaceId).to.be.a('string').and.not.empty;
pm.expect(body.visitId).to.be.a('string').and.not.empty;`,
);

/** Script bodies (after the status test) by operationId, or `operationId/example`. */
const CHECKS: Record<string, string> = {
  'createLinks/minimal': jsonTest(
    'one host and one guest link, each a cipher; the host cipher becomes {{data}}',
    `pm.expect(body.host).to.be.an('array').with.lengthOf(1);
pm.expect(body.guest).to.be.an('array').with.lengthOf(1);
pm.expect(body.host[0].cipher).to.be.a('string').and.not.empty;
pm.expect(body.guest[0].cipher).to.be.a('string').and.not.empty;
pm.collectionVariables.set('data', body.host[0].cipher);`,
  ),
  'createLinks/shortUrls': jsonTest(
    'short codes and a baseUrl; a guest code becomes {{code}}',
    `pm.expect(body.baseUrl).to.be.a('string').and.match(/\\/$/);
for (const link of body.host.concat(body.guest)) pm.expect(link.short).to.be.a('string').and.not.empty;
pm.collectionVariables.set('code', body.guest[0].short);`,
  ),
  createLinksV1: jsonTest(
    'the v1 answer: ciphers as strings',
    `pm.expect(body.host).to.be.an('array').with.lengthOf(1);
pm.expect(body.guest).to.be.an('array').with.lengthOf(1);
pm.expect(body.host[0]).to.be.a('string').and.not.empty;
pm.expect(body.guest[0]).to.be.a('string').and.not.empty;`,
  ),
  openShortLink: `pm.test('redirects to the long link', () => {
  const location = pm.response.headers.get('Location');
  pm.expect(location).to.match(/\\/v1\\/(login|talk)\\?/);
  pm.expect(location).to.include('data=');
});`,
  openLinkPage: `pm.test('the visit page, holding a ticket; it becomes {{ticket}}', () => {
  pm.expect(pm.response.headers.get('Content-Type')).to.include('text/html');
  const match = pm.response.text().match(/data-ticket="([A-Za-z0-9_.-]+)"/);
  pm.expect(match, 'data-ticket in the page').to.be.an('array');
  pm.expect(pm.response.text()).to.include('data-role="host"');
  pm.collectionVariables.set('ticket', match[1]);
});`,
  getSpace: SPACE,
  postSpace: SPACE,
  getSpaceSlash: SPACE,
  postSpaceSlash: SPACE,
  liveJoin: jsonTest(
    'the host joined: the visit is live',
    `${LIVE_STATUS_SHAPE}\npm.expect(body.state).to.equal('live');`,
  ),
  liveStatus: jsonTest(
    'the status of the live visit',
    `${LIVE_STATUS_SHAPE}\npm.expect(body.state).to.equal('live');`,
  ),
  liveLeave: jsonTest('left', `pm.expect(body).to.deep.equal({ ok: true });`),
  liveEnd: jsonTest(
    'the host ended the visit for everyone',
    `${LIVE_STATUS_SHAPE}\npm.expect(body.state).to.equal('ended');`,
  ),
  'triggerVisit/visit': jsonTest(
    'a visit with flat link fields',
    `${VISIT_SHAPE}
pm.expect(body.hostUrl).to.be.a('string').and.match(/^https?:\\/\\//);
pm.expect(body.guestUrl).to.be.a('string').and.match(/^https?:\\/\\//);
pm.expect(body.guestUrls).to.be.an('array').with.lengthOf(1);
pm.expect(pm.response.headers.get('Location')).to.equal('/api/visits/' + body.id);`,
  ),
  health: jsonTest('alive', `pm.expect(body).to.deep.equal({ status: 'ok' });`),
  ready: jsonTest(
    'the database answers',
    `pm.expect(body.status).to.equal('ready');\npm.expect(body.store).to.be.oneOf(['sqlite', 'postgres']);`,
  ),
  metrics: `pm.test('Prometheus text with the request counter', () => {
  pm.expect(pm.response.headers.get('Content-Type')).to.include('text/plain');
  pm.expect(pm.response.text()).to.include('# TYPE ic_http_requests_total');
});`,
  openApiDocument: jsonTest(
    'an OpenAPI 3.1 document',
    `pm.expect(body.openapi).to.match(/^3\\.1\\./);\npm.expect(body.paths).to.have.property('/api/v2/joseencrypt');`,
  ),
  docsPage: `pm.test('the reference page', () => {
  pm.expect(pm.response.headers.get('Content-Type')).to.include('text/html');
  pm.expect(pm.response.text()).to.include('/api/v2/joseencrypt');
});`,
  asset: `pm.test('the stylesheet', () => {
  pm.expect(pm.response.headers.get('Content-Type')).to.include('text/css');
  pm.expect(pm.response.text()).to.not.be.empty;
});`,
  'createEventSubscription/ehr': jsonTest(
    'a subscription with its secret, shown once; its id becomes {{subscription-id}}',
    `pm.expect(body.id).to.match(/^sub_/);
pm.expect(body.secret).to.match(/^whsec_/);
pm.expect(body.types).to.deep.equal(['visit.created', 'visit.cancelled']);
pm.expect(body.active).to.equal(true);
pm.collectionVariables.set('subscription-id', body.id);`,
  ),
  listEventSubscriptions: jsonTest(
    'subscriptions, never a secret',
    `pm.expect(body.items).to.be.an('array');
for (const s of body.items) pm.expect(s).to.not.have.property('secret');`,
  ),
  getEventSubscription: jsonTest(
    'the subscription',
    `pm.expect(body.id).to.equal(pm.collectionVariables.get('subscription-id'));
pm.expect(body).to.not.have.property('secret');`,
  ),
  'rotateEventSubscriptionSecret/hour': jsonTest(
    'a new secret; the previous one signs for an hour',
    `pm.expect(body.secret).to.match(/^whsec_/);
pm.expect(body.previousSecretUntil).to.be.a('string');`,
  ),
  listEventDeliveries: jsonTest('deliveries', `pm.expect(body.items).to.be.an('array');`),
  deleteEventSubscription: jsonTest(
    'unsubscribed',
    `pm.expect(body.active).to.equal(false);
pm.expect(body.disabledReason).to.equal('unsubscribed');`,
  ),
  'createVisit/scheduled': jsonTest(
    'the scheduled visit: two guests, in ten minutes; its id becomes {{visit-id}}',
    `${VISIT_SHAPE}
pm.expect(body.state).to.equal('scheduled');
pm.expect(body.subject).to.equal('Clinic room 4');
pm.expect(body.guests).to.have.lengthOf(2);
pm.expect(pm.response.headers.get('Location')).to.equal('/api/visits/' + body.id);
pm.collectionVariables.set('visit-id', body.id);`,
  ),
  'createVisit/local': jsonTest(
    'the visit at 14:30 in London (UTC in November)',
    `${VISIT_SHAPE}
pm.expect(body.start).to.equal('2030-11-28T14:30:00Z');
pm.expect(body.state).to.equal('scheduled');`,
  ),
  listVisits: jsonTest(
    'a page of visits',
    `pm.expect(body.items).to.be.an('array').that.is.not.empty;
pm.expect(body.total).to.be.at.least(body.items.length);
pm.expect(body.limit).to.be.a('number');
pm.expect(body.offset).to.equal(0);`,
  ),
  getVisit: jsonTest(
    'the visit of {{visit-id}}',
    `${VISIT_SHAPE}\npm.expect(body.id).to.equal(pm.collectionVariables.get('visit-id'));`,
  ),
  'addVisitLinks/guest': jsonTest(
    'one more guest: three guest links',
    `${VISIT_SHAPE}
pm.expect(body.id).to.equal(pm.collectionVariables.get('visit-id'));
pm.expect(body.guests).to.have.lengthOf(3);`,
  ),
  listVisitEvents: jsonTest(
    'the event log, oldest first, from visit.created',
    `pm.expect(body.items).to.be.an('array').that.is.not.empty;
pm.expect(body.items[0].type).to.equal('visit.created');
for (const event of body.items) pm.expect(event.at).to.be.a('number');`,
  ),
  listVisitDeliveries: jsonTest(
    'the delivery records, oldest first (none without recipients and SMTP_URL)',
    `pm.expect(body.items).to.be.an('array');
for (const d of body.items) pm.expect(d.status).to.be.oneOf(['queued', 'sent', 'failed', 'skipped']);`,
  ),
  revokeVisitLink: jsonTest(
    'the first guest link withdrawn, the visit goes on',
    `${VISIT_SHAPE}
pm.expect(body.revocation.role).to.equal('guest');
pm.expect(body.revocation.index).to.equal(0);
pm.expect(body.revocation.linkStopped).to.equal(true);
pm.expect(body.guests[0].revokedAt).to.be.a('string');`,
  ),
  cancelVisit: jsonTest(
    'cancelled: its links stopped at once',
    `${VISIT_SHAPE}
pm.expect(body.state).to.equal('cancelled');
pm.expect(body.cancellation.linksStopped).to.equal(true);`,
  ),
};

/**
 * `notify` needs the bot on the server (WEBEX_TOKEN): with it, 201 and what the bot sent; without
 * it, the documented 400 naming `notify`. Either is the server doing what it says.
 */
const TRIGGER_NOTIFY = `pm.test('201 with the deliveries, or 400 naming notify when the server has no bot (WEBEX_TOKEN)', () => {
  pm.expect(pm.response.code).to.be.oneOf([201, 400]);
  const body = pm.response.json();
  if (pm.response.code === 400) {
    pm.expect(body.errors.map((e) => e.path)).to.include('notify');
    return;
  }
  pm.expect(body.id).to.match(/^vis_/);
  pm.expect(body.delivery).to.be.an('array').that.is.not.empty;
});`;

/**
 * A resend needs a recipient on the link and its channel on (SMTP_URL, SMS_PROVIDER): with them,
 * 202 and the queued delivery; without, the documented 400 naming `recipient` or `channel`.
 */
const RESEND = `pm.test('status 202, or the documented 400', () => pm.expect(pm.response.code).to.be.oneOf([202, 400]));
pm.test('the queued delivery, or 400 naming recipient or channel', () => {
  const body = pm.response.json();
  if (pm.response.code === 400) {
    pm.expect(body.errors.map((e) => e.path)).to.satisfy((p) => p.includes('recipient') || p.includes('channel'));
    return;
  }
  pm.expect(body.trigger).to.equal('resend');
  pm.expect(body.status).to.equal('queued');
});`;

/** A request without its own checks (a new operation): its status, and JSON when JSON. */
function fallback(status: number): string {
  return `${statusTest(status)}
pm.test('a JSON answer is JSON', () => {
  if ((pm.response.headers.get('Content-Type') || '').includes('application/json')) pm.response.json();
});`;
}

/**
 * The test script of one request: the status the document gives for success, then the checks
 * of the operation (or of its example body).
 */
export function testScript(operationId: string, example: string | undefined, status: number): string[] {
  if (operationId === 'triggerVisit' && example === 'notify') return lines(TRIGGER_NOTIFY);
  if (operationId === 'resendVisitLink') return lines(RESEND);
  const checks =
    (example !== undefined ? CHECKS[`${operationId}/${example}`] : undefined) ?? CHECKS[operationId];
  if (checks === undefined) return lines(fallback(status));
  return lines(`${statusTest(status)}\n${checks}`);
}

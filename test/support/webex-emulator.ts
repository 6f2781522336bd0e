/**
 * A Webex API emulator for tests: a real HTTP server on 127.0.0.1 answering under `/v1` the few
 * endpoints the bot and the CLI use (reference §8), with a record of every call and injectable
 * faults. Nothing is mocked: the code under test reaches it over TCP exactly as it reaches Webex.
 *
 *   GET    /v1/people/me                 the bot
 *   GET    /v1/people/:id                people added with addPerson (their emails and orgId)
 *   GET    /v1/messages/:id              messages the test seeded (seedMessage)
 *   POST   /v1/messages                  recorded in `sent`; answers the Message
 *   GET    /v1/webhooks?max=N            paged with Link: <…>; rel="next"
 *   POST   /v1/webhooks, DELETE /v1/webhooks/:id
 *   GET    /v1/attachment/actions/:id    card submissions the test seeded
 *   GET    /v1/rooms?type=group&max=N    spaces added with addSpace, most recently active first
 *   GET    /v1/rooms/:id/meetingInfo     a space's meeting (its series id, number, SIP address)
 *   GET    /v1/meetingParticipants?meetingId=…   who is (and was) in a meeting instance, or a series' latest
 *
 * Meetings as Webex runs them: `startMeeting(roomId)`, `joinMeeting`, `leaveMeeting` and
 * `endMeeting` change what the API answers and POST the `meetings` and `meetingParticipants`
 * deliveries, signed, to every registered webhook of that resource and event (as Webex does).
 *
 * Every call needs `Authorization: Bearer <token>` (401 otherwise) and every answer carries a
 * `TrackingID` header. Faults: `fail('POST', '/messages', { status: 429, retryAfter: 1 })` makes
 * the next matching call(s) fail; `hang(...)` holds the next matching call(s) open until the
 * client goes away.
 *
 * `signedDelivery(url, secret, payload)` POSTs a webhook delivery as Webex does, with
 * `X-Spark-Signature` = lowercase hex HMAC-SHA1 of the exact raw bytes.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Who may use the bot in tests: the emulator's people (their default emails are @example.com).
 * Without an access list the bot is closed, as a server without BOT_ALLOWED_* is.
 */
export const EMULATED_ACCESS = { allowedDomains: ['example.com'] } as const;

/** A Webex id: base64url of `ciscospark://us/<TYPE>/<uuid>`, as the real ones are. */
function webexId(type: 'PEOPLE' | 'ROOM' | 'MESSAGE' | 'WEBHOOK' | 'ATTACHMENT_ACTION' | 'MEETING'): string {
  return Buffer.from(`ciscospark://us/${type}/${randomUUID()}`).toString('base64url');
}

export interface EmulatedPerson {
  id: string;
  emails: string[];
  displayName: string;
  orgId: string;
  type: 'person' | 'bot';
  /** The 1:1 room between this person and the bot. */
  directRoomId: string;
}

export interface EmulatedMessage {
  id: string;
  roomId: string;
  roomType: 'direct' | 'group';
  text?: string;
  markdown?: string;
  html?: string;
  personId: string;
  personEmail: string;
  mentionedPeople?: string[];
  toPersonId?: string;
  toPersonEmail?: string;
  attachments?: unknown[];
  created: string;
}

/** A message the bot posted (POST /v1/messages), with the target it named. */
export interface SentMessage {
  /** The request body as sent. */
  body: Record<string, unknown>;
  roomId?: string;
  toPersonId?: string;
  toPersonEmail?: string;
  markdown?: string;
  text?: string;
  attachments?: { contentType: string; content: Record<string, any> }[];
  /** The Message answered. */
  message: EmulatedMessage;
  at: number;
}

/** A group space with a title and a meeting (Instant Connect's `Virtual Visit - <sub>`). */
interface EmulatedSpace {
  id: string;
  title: string;
  /** The meeting series (what meetingInfo names). */
  meetingId: string;
  meetingNumber: string;
  created: string;
  lastActivity: string;
}

/** A meeting instance (`<series>_I_<n>`, what deliveries name). */
interface EmulatedMeeting {
  id: string;
  meetingSeriesId: string;
  roomId: string;
  title: string;
  state: 'inProgress' | 'ended';
  start: string;
  end?: string;
}

interface EmulatedParticipant {
  id: string;
  meetingId: string;
  host: boolean;
  coHost: boolean;
  spaceModerator: boolean;
  email: string;
  displayName: string;
  state: 'lobby' | 'joined' | 'end';
  joinedTime: string;
  leftTime?: string;
}

/** A delivery the emulator POSTed to a webhook, and what the target answered (0: no answer). */
interface EmulatedDelivery {
  webhookId: string;
  targetUrl: string;
  resource: string;
  event: string;
  body: Record<string, unknown>;
  status: number;
}

interface EmulatedWebhook {
  id: string;
  name: string;
  targetUrl: string;
  resource: string;
  event: string;
  filter?: string;
  secret?: string;
  status: 'active' | 'inactive';
  created: string;
  ownedBy: 'creator' | 'org';
  orgId: string;
  createdBy: string;
  appId: string;
}

export interface EmulatedAction {
  id: string;
  type: 'submit';
  messageId: string;
  roomId: string;
  personId: string;
  inputs: Record<string, unknown>;
  created: string;
}

interface EmulatorCall {
  method: string;
  /** Path under /v1 without the query, e.g. `/messages/Y2lz…`. */
  path: string;
  /** The whole request URL as received, with the query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  rawBody: string;
  /** What the emulator answered (0 when the call was held open and never answered). */
  status: number;
  trackingId: string;
  at: number;
}

interface Fault {
  /** How many matching calls fail (default 1). */
  times?: number;
  /** 429, 500, 503… (default 503). */
  status?: number;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** Only calls this predicate accepts (after method and path) count. */
  match?: (call: { path: string; body: any }) => boolean;
}

interface ArmedFault {
  method: string;
  path: string | RegExp;
  left: number;
  status: number | 'hang' | 'delay';
  retryAfter?: number;
  delayMs?: number;
  match?: Fault['match'];
}

export interface WebexEmulatorOptions {
  /** The bot's token (default a random one). */
  token?: string;
  botName?: string;
  /** Whether POST /messages to an email of nobody known answers 404, as Webex does (default true). */
  rejectUnknownEmails?: boolean;
}

export interface WebexEmulator {
  /** `http://127.0.0.1:<port>`; the API is under `${url}/v1`. */
  readonly url: string;
  readonly apiUrl: string;
  readonly token: string;
  readonly bot: EmulatedPerson;
  readonly calls: EmulatorCall[];
  readonly sent: SentMessage[];
  readonly webhooks: EmulatedWebhook[];
  /** The organisation of the bot and, unless told otherwise, of every person added. */
  readonly orgId: string;
  /** A person the bot can write to (by id or email); `orgId` puts them in another organisation. */
  addPerson(options?: { email?: string; displayName?: string; orgId?: string }): EmulatedPerson;
  /** A group space the bot is in. */
  addGroupRoom(): string;
  /** A message readable with GET /messages/:id (what a delivery points at). */
  seedMessage(options: {
    from: EmulatedPerson;
    text: string;
    /** Default `direct` (the 1:1 room of `from`). */
    roomType?: 'direct' | 'group';
    roomId?: string;
    /** Group messages: whether the bot is @mentioned (default true); adds the html and mentionedPeople. */
    mentionBot?: boolean;
  }): EmulatedMessage;
  seedAction(options: {
    from: EmulatedPerson;
    inputs: Record<string, unknown>;
    roomId?: string;
  }): EmulatedAction;
  seedWebhook(webhook: Partial<EmulatedWebhook> & { name: string; targetUrl: string }): EmulatedWebhook;
  /** The next matching call(s) fail. `path` is matched under /v1 (a string is a prefix). */
  fail(method: string, path: string | RegExp, fault?: Fault): void;
  /** The next matching call(s) are answered as usual, but only after `delayMs`. */
  delay(method: string, path: string | RegExp, delayMs: number, fault?: Pick<Fault, 'times' | 'match'>): void;
  /** The next matching call(s) are held open, never answered (the client's socket closing ends them). */
  hang(method: string, path: string | RegExp, fault?: Pick<Fault, 'times' | 'match'>): void;
  /** Faults armed and not yet used up. */
  pendingFaults(): number;
  callsTo(method: string, path: string | RegExp): EmulatorCall[];
  /** Messages sent to a room, or 1:1 to a person (by id or email). */
  sentTo(target: { roomId?: string; toPersonId?: string; toPersonEmail?: string }): SentMessage[];
  /**
   * Waits (bounded) until `predicate` holds of the messages sent so far, then returns them;
   * fails with what was sent and the calls made.
   */
  waitForSent(
    predicate: (sent: SentMessage[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<SentMessage[]>;
  /** A group space titled `title` (the bot is in it), with a meeting of its own. */
  addSpace(title: string): EmulatedSpace;
  /** Starts a new instance of the space's meeting; delivers `meetings/started`. */
  startMeeting(roomId: string): Promise<EmulatedMeeting>;
  /** Someone joins (`host`: the host link's user); delivers `meetingParticipants/joined`. */
  joinMeeting(
    meetingId: string,
    options?: { host?: boolean; email?: string; displayName?: string },
  ): Promise<EmulatedParticipant>;
  /** Delivers `meetingParticipants/left`. */
  leaveMeeting(meetingId: string, participantId: string): Promise<EmulatedParticipant>;
  /** Everyone leaves (their deliveries), then `meetings/ended`. */
  endMeeting(meetingId: string): Promise<void>;
  /** Every delivery POSTed so far. */
  readonly deliveries: EmulatedDelivery[];
  /** Waits until at least `count` messages match `filter`; returns the matching ones. */
  waitForMessages(
    filter: (m: SentMessage) => boolean,
    count: number,
    what: string,
    timeoutMs?: number,
  ): Promise<SentMessage[]>;
  close(): Promise<void>;
}

function match(path: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string'
    ? path === pattern || path.startsWith(`${pattern}/`)
    : pattern.test(path);
}

export async function startWebexEmulator(options: WebexEmulatorOptions = {}): Promise<WebexEmulator> {
  const token = options.token ?? `bot-token-${randomUUID()}`;
  const rejectUnknown = options.rejectUnknownEmails ?? true;
  const orgId = Buffer.from(`ciscospark://us/ORGANIZATION/${randomUUID()}`).toString('base64url');
  const appId = Buffer.from(`ciscospark://us/APPLICATION/${randomUUID()}`).toString('base64url');
  const people: EmulatedPerson[] = [];
  const rooms = new Map<string, 'direct' | 'group'>();
  const messages = new Map<string, EmulatedMessage>();
  const actions = new Map<string, EmulatedAction>();
  const webhooks: EmulatedWebhook[] = [];
  const spaces: EmulatedSpace[] = [];
  const meetings: EmulatedMeeting[] = [];
  const participants: EmulatedParticipant[] = [];
  const deliveries: EmulatedDelivery[] = [];
  const calls: EmulatorCall[] = [];
  const sent: SentMessage[] = [];
  let faults: ArmedFault[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const iso = () => new Date().toISOString();

  const addPerson = (
    o: { email?: string; displayName?: string; type?: 'person' | 'bot'; orgId?: string } = {},
  ) => {
    const id = webexId('PEOPLE');
    const directRoomId = webexId('ROOM');
    rooms.set(directRoomId, 'direct');
    const person: EmulatedPerson = {
      id,
      emails: [(o.email ?? `person-${people.length}-${randomUUID().slice(0, 8)}@example.com`).toLowerCase()],
      displayName: o.displayName ?? `Person ${people.length}`,
      orgId: o.orgId ?? orgId,
      type: o.type ?? 'person',
      directRoomId,
    };
    people.push(person);
    return person;
  };
  const bot = addPerson({
    email: `ic-test-${randomUUID().slice(0, 8)}@webex.bot`,
    displayName: options.botName ?? 'Visits Bot',
    type: 'bot',
  });
  const personById = (id: unknown) => people.find((p) => p.id === id);
  const personByEmail = (email: unknown) =>
    typeof email === 'string' ? people.find((p) => p.emails.includes(email.toLowerCase())) : undefined;

  const answer = (
    res: ServerResponse,
    status: number,
    trackingId: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    res.writeHead(status, {
      trackingid: trackingId,
      ...(payload !== undefined
        ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
        : {}),
      ...headers,
    });
    res.end(payload);
  };
  const error = (message: string, trackingId: string) => ({
    message,
    errors: [{ description: message }],
    trackingId,
  });

  const route = (
    method: string,
    path: string,
    url: URL,
    body: any,
    trackingId: string,
  ): { status: number; body?: unknown; headers?: Record<string, string> } => {
    if (method === 'GET' && path === '/people/me') {
      const { directRoomId: _r, ...me } = bot;
      return { status: 200, body: { ...me, created: '2024-01-01T00:00:00.000Z' } };
    }
    let m = /^\/people\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const person = personById(decodeURIComponent(m[1]!));
      if (!person) return { status: 404, body: error('Person not found.', trackingId) };
      const { directRoomId: _r, ...shown } = person;
      return { status: 200, body: { ...shown, created: '2024-01-01T00:00:00.000Z' } };
    }
    m = /^\/messages\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const message = messages.get(decodeURIComponent(m[1]!));
      return message
        ? { status: 200, body: message }
        : { status: 404, body: error('The requested resource could not be found.', trackingId) };
    }
    if (method === 'POST' && path === '/messages') {
      if (typeof body !== 'object' || body === null)
        return { status: 400, body: error('A JSON body is required.', trackingId) };
      const targets = ['roomId', 'toPersonId', 'toPersonEmail'].filter((k) => body[k] !== undefined);
      if (targets.length !== 1)
        return { status: 400, body: error('Exactly one of roomId, toPersonId, toPersonEmail.', trackingId) };
      if (typeof body.markdown !== 'string' && typeof body.text !== 'string' && !body.files)
        return { status: 400, body: error('text, markdown or files is required.', trackingId) };
      for (const field of ['markdown', 'text'])
        if (typeof body[field] === 'string' && Buffer.byteLength(body[field]) > 7439)
          return { status: 400, body: error('The message is longer than 7439 bytes.', trackingId) };
      let roomId: string;
      let roomType: 'direct' | 'group';
      if (body.roomId !== undefined) {
        const type = rooms.get(body.roomId);
        if (!type) return { status: 404, body: error('Could not find a room with that id.', trackingId) };
        roomId = body.roomId;
        roomType = type;
      } else {
        const to =
          body.toPersonId !== undefined ? personById(body.toPersonId) : personByEmail(body.toPersonEmail);
        if (!to && (body.toPersonId !== undefined || rejectUnknown))
          return { status: 404, body: error('Failed to get person.', trackingId) };
        roomId = to?.directRoomId ?? webexId('ROOM');
        roomType = 'direct';
      }
      const message: EmulatedMessage = {
        id: webexId('MESSAGE'),
        roomId,
        roomType,
        ...(typeof body.text === 'string' ? { text: body.text } : {}),
        ...(typeof body.markdown === 'string' ? { markdown: body.markdown, text: body.markdown } : {}),
        ...(body.toPersonId !== undefined ? { toPersonId: body.toPersonId } : {}),
        ...(body.toPersonEmail !== undefined ? { toPersonEmail: body.toPersonEmail } : {}),
        ...(Array.isArray(body.attachments) ? { attachments: body.attachments } : {}),
        personId: bot.id,
        personEmail: bot.emails[0]!,
        created: iso(),
      };
      messages.set(message.id, message);
      sent.push({
        body,
        ...(body.roomId !== undefined ? { roomId: body.roomId } : {}),
        ...(body.toPersonId !== undefined ? { toPersonId: body.toPersonId } : {}),
        ...(body.toPersonEmail !== undefined ? { toPersonEmail: body.toPersonEmail } : {}),
        ...(typeof body.markdown === 'string' ? { markdown: body.markdown } : {}),
        ...(typeof body.text === 'string' ? { text: body.text } : {}),
        ...(Array.isArray(body.attachments) ? { attachments: body.attachments } : {}),
        message,
        at: Date.now(),
      });
      return { status: 200, body: message };
    }
    if (method === 'GET' && path === '/webhooks') {
      const max = Math.max(1, Math.min(1000, Number(url.searchParams.get('max') ?? 100) || 100));
      const from = Math.max(0, Number(url.searchParams.get('cursor') ?? 0) || 0);
      const items = webhooks.slice(from, from + max);
      const headers: Record<string, string> = {};
      if (from + max < webhooks.length) {
        const next = new URL(url.href);
        next.searchParams.set('max', String(max));
        next.searchParams.set('cursor', String(from + max));
        headers['link'] = `<${next.href}>; rel="next"`;
      }
      return { status: 200, body: { items }, headers };
    }
    if (method === 'POST' && path === '/webhooks') {
      const missing = ['name', 'targetUrl', 'resource', 'event'].filter((k) => typeof body?.[k] !== 'string');
      if (missing.length > 0)
        return { status: 400, body: error(`Missing ${missing.join(', ')}.`, trackingId) };
      const webhook = seedWebhook(body);
      return { status: 200, body: webhook };
    }
    m = /^\/webhooks\/([^/]+)$/.exec(path);
    if (m && (method === 'GET' || method === 'DELETE')) {
      const id = decodeURIComponent(m[1]!);
      const at = webhooks.findIndex((w) => w.id === id);
      if (at < 0) return { status: 404, body: error('Webhook not found.', trackingId) };
      if (method === 'GET') return { status: 200, body: webhooks[at] };
      webhooks.splice(at, 1);
      return { status: 204 };
    }
    m = /^\/attachment\/actions\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const action = actions.get(decodeURIComponent(m[1]!));
      return action
        ? { status: 200, body: action }
        : { status: 404, body: error('The requested resource could not be found.', trackingId) };
    }
    if (method === 'GET' && path === '/rooms') {
      const max = Math.max(1, Math.min(1000, Number(url.searchParams.get('max') ?? 100) || 100));
      const type = url.searchParams.get('type');
      const items = type && type !== 'group' ? [] : [...spaces].reverse().slice(0, max);
      return {
        status: 200,
        body: {
          items: items.map((r) => ({
            id: r.id,
            title: r.title,
            type: 'group',
            isLocked: false,
            lastActivity: r.lastActivity,
            created: r.created,
          })),
        },
      };
    }
    m = /^\/rooms\/([^/]+)\/meetingInfo$/.exec(path);
    if (method === 'GET' && m) {
      const space = spaces.find((r) => r.id === decodeURIComponent(m![1]!));
      if (!space) return { status: 404, body: error('Could not find a room with that id.', trackingId) };
      return {
        status: 200,
        body: {
          roomId: space.id,
          meetingLink: `https://example.webex.com/m/${space.meetingId}`,
          sipAddress: `${space.meetingNumber}@example.webex.com`,
          meetingNumber: space.meetingNumber,
          meetingId: space.meetingId,
        },
      };
    }
    if (method === 'GET' && path === '/meetingParticipants') {
      const id = url.searchParams.get('meetingId');
      if (!id) return { status: 400, body: error('meetingId is required.', trackingId) };
      const instance =
        meetings.find((x) => x.id === id) ?? [...meetings].reverse().find((x) => x.meetingSeriesId === id);
      if (!instance) return { status: 404, body: error('Meeting not found.', trackingId) };
      return { status: 200, body: { items: participants.filter((p) => p.meetingId === instance.id) } };
    }
    return { status: 404, body: error(`emulator: no route for ${method} ${path}`, trackingId) };
  };

  /** POSTs a delivery to every active webhook of this resource and event, signed with its secret. */
  const deliver = async (resource: string, event: string, data: Record<string, unknown>) => {
    const targets = webhooks.filter(
      (w) => w.status === 'active' && w.resource === resource && w.event === event,
    );
    await Promise.all(
      targets.map(async (w) => {
        const body = {
          id: w.id,
          name: w.name,
          targetUrl: w.targetUrl,
          resource,
          event,
          orgId,
          createdBy: w.createdBy,
          appId,
          ownedBy: w.ownedBy,
          status: 'active',
          created: w.created,
          actorId: bot.id,
          data,
        };
        const record: EmulatedDelivery = {
          webhookId: w.id,
          targetUrl: w.targetUrl,
          resource,
          event,
          body,
          status: 0,
        };
        deliveries.push(record);
        try {
          record.status = (await signedDelivery(w.targetUrl, w.secret ?? '', body)).status;
        } catch {
          record.status = 0;
        }
      }),
    );
  };
  const meetingOf = (id: string) => {
    const meeting = meetings.find((x) => x.id === id);
    if (!meeting) throw new Error(`emulator: no meeting ${id}`);
    return meeting;
  };
  const meetingData = (x: EmulatedMeeting) => ({
    id: x.id,
    meetingSeriesId: x.meetingSeriesId,
    title: x.title,
    meetingType: 'meeting',
    state: x.state === 'ended' ? 'ended' : 'inProgress',
    start: x.start,
    ...(x.end ? { end: x.end } : {}),
    hostEmail: bot.emails[0],
  });
  const participantData = (p: EmulatedParticipant) => ({ ...p, orgId, siteUrl: 'example.webex.com' });

  const seedWebhook = (
    w: Partial<EmulatedWebhook> & { name: string; targetUrl: string },
  ): EmulatedWebhook => {
    const webhook: EmulatedWebhook = {
      id: w.id ?? webexId('WEBHOOK'),
      name: w.name,
      targetUrl: w.targetUrl,
      resource: w.resource ?? 'messages',
      event: w.event ?? 'created',
      ...(w.filter !== undefined ? { filter: w.filter } : {}),
      ...(w.secret !== undefined ? { secret: w.secret } : {}),
      status: w.status ?? 'active',
      created: iso(),
      ownedBy: w.ownedBy === 'org' ? 'org' : 'creator',
      orgId,
      createdBy: bot.id,
      appId,
    };
    webhooks.push(webhook);
    return webhook;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = undefined;
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const method = req.method ?? 'GET';
      const trackingId = `EMULATOR_${randomUUID()}`;
      const call: EmulatorCall = {
        method,
        path: url.pathname.replace(/^\/v1(?=\/)/, ''),
        url: req.url ?? '/',
        headers: req.headers,
        body,
        rawBody,
        status: 0,
        trackingId,
        at: Date.now(),
      };
      calls.push(call);
      const finish = (status: number, payload?: unknown, headers?: Record<string, string>) => {
        call.status = status;
        answer(res, status, trackingId, payload, headers);
      };
      if (!url.pathname.startsWith('/v1/')) return finish(404, error('Not under /v1', trackingId));
      if (req.headers.authorization !== `Bearer ${token}`) {
        return finish(
          401,
          error(
            'The request requires a valid access token set in the Authorization request header.',
            trackingId,
          ),
        );
      }
      const fault = faults.find(
        (f) =>
          f.left > 0 &&
          f.method === method &&
          match(call.path, f.path) &&
          (!f.match || f.match({ path: call.path, body })),
      );
      if (fault) {
        fault.left -= 1;
        faults = faults.filter((f) => f.left > 0);
        if (fault.status === 'hang') {
          held.add(res);
          res.on('close', () => held.delete(res));
          return;
        }
        if (fault.status === 'delay') {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (res.destroyed) return;
            const result = route(method, call.path, url, body, trackingId);
            finish(result.status, result.body, result.headers);
          }, fault.delayMs);
          timers.add(timer);
          return;
        }
        return finish(
          fault.status,
          error(fault.status === 429 ? 'Too Many Requests' : 'Injected failure', trackingId),
          fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {},
        );
      }
      const result = route(method, call.path, url, body, trackingId);
      finish(result.status, result.body, result.headers);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const sentTo = (target: { roomId?: string; toPersonId?: string; toPersonEmail?: string }) =>
    sent.filter(
      (s) =>
        (target.roomId === undefined || s.roomId === target.roomId) &&
        (target.toPersonId === undefined || s.toPersonId === target.toPersonId) &&
        (target.toPersonEmail === undefined || s.toPersonEmail === target.toPersonEmail),
    );

  const describeState = () =>
    `sent so far: ${JSON.stringify(
      sent.map((s) => ({
        roomId: s.roomId,
        toPersonId: s.toPersonId,
        toPersonEmail: s.toPersonEmail,
        markdown: s.markdown?.slice(0, 120),
      })),
      null,
      1,
    )}\ncalls: ${calls.map((c) => `${c.method} ${c.path} → ${c.status}`).join(', ')}`;

  const waitForSent: WebexEmulator['waitForSent'] = async (predicate, what, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(sent)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describeState()}`);
      await sleep(20);
    }
    return sent;
  };

  const emulator: WebexEmulator = {
    url: base,
    apiUrl: `${base}/v1`,
    orgId,
    token,
    bot,
    calls,
    sent,
    webhooks,
    addPerson: (o) => addPerson(o),
    addGroupRoom() {
      const id = webexId('ROOM');
      rooms.set(id, 'group');
      return id;
    },
    seedMessage(o) {
      const roomType = o.roomType ?? 'direct';
      const roomId = o.roomId ?? (roomType === 'direct' ? o.from.directRoomId : emulator.addGroupRoom());
      if (!rooms.has(roomId)) rooms.set(roomId, roomType);
      const mention = roomType === 'group' && (o.mentionBot ?? true);
      const escaped = o.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const message: EmulatedMessage = {
        id: webexId('MESSAGE'),
        roomId,
        roomType,
        text: mention ? `${bot.displayName} ${o.text}` : o.text,
        ...(mention
          ? {
              html: `<p><spark-mention data-object-type="person" data-object-id="${bot.id}">${bot.displayName}</spark-mention> ${escaped}</p>`,
              mentionedPeople: [bot.id],
            }
          : {}),
        personId: o.from.id,
        personEmail: o.from.emails[0]!,
        created: iso(),
      };
      messages.set(message.id, message);
      return message;
    },
    seedAction(o) {
      const action: EmulatedAction = {
        id: webexId('ATTACHMENT_ACTION'),
        type: 'submit',
        messageId: webexId('MESSAGE'),
        roomId: o.roomId ?? o.from.directRoomId,
        personId: o.from.id,
        inputs: o.inputs,
        created: iso(),
      };
      actions.set(action.id, action);
      return action;
    },
    seedWebhook,
    deliveries,
    addSpace(title) {
      const space: EmulatedSpace = {
        id: webexId('ROOM'),
        title,
        meetingId: randomUUID().replace(/-/g, ''),
        meetingNumber: String(2_000_000_000 + spaces.length),
        created: iso(),
        lastActivity: iso(),
      };
      rooms.set(space.id, 'group');
      spaces.push(space);
      return space;
    },
    async startMeeting(roomId) {
      const space = spaces.find((r) => r.id === roomId);
      if (!space) throw new Error(`emulator: no space ${roomId}`);
      const meeting: EmulatedMeeting = {
        id: `${space.meetingId}_I_${Date.now()}${meetings.length}`,
        meetingSeriesId: space.meetingId,
        roomId,
        title: space.title,
        state: 'inProgress',
        start: iso(),
      };
      meetings.push(meeting);
      await deliver('meetings', 'started', meetingData(meeting));
      return meeting;
    },
    async joinMeeting(meetingId, o = {}) {
      const meeting = meetingOf(meetingId);
      const n = participants.length;
      const participant: EmulatedParticipant = {
        id: `${meeting.id}_${randomUUID()}`,
        meetingId: meeting.id,
        host: o.host ?? false,
        coHost: false,
        spaceModerator: false,
        email: o.email ?? `participant-${n}@example.com`,
        displayName: o.displayName ?? `Participant ${n}`,
        state: 'joined',
        joinedTime: iso(),
      };
      participants.push(participant);
      await deliver('meetingParticipants', 'joined', participantData(participant));
      return participant;
    },
    async leaveMeeting(meetingId, participantId) {
      const participant = participants.find((p) => p.id === participantId && p.meetingId === meetingId);
      if (!participant) throw new Error(`emulator: no participant ${participantId}`);
      participant.state = 'end';
      participant.leftTime = iso();
      await deliver('meetingParticipants', 'left', participantData(participant));
      return participant;
    },
    async endMeeting(meetingId) {
      const meeting = meetingOf(meetingId);
      for (const p of participants.filter((x) => x.meetingId === meetingId && x.state !== 'end'))
        await emulator.leaveMeeting(meetingId, p.id);
      meeting.state = 'ended';
      meeting.end = iso();
      await deliver('meetings', 'ended', meetingData(meeting));
    },
    fail(method, path, fault = {}) {
      faults.push({
        method,
        path,
        left: fault.times ?? 1,
        status: fault.status ?? 503,
        ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {}),
        ...(fault.match ? { match: fault.match } : {}),
      });
    },
    delay(method, path, delayMs, fault = {}) {
      faults.push({
        method,
        path,
        left: fault.times ?? 1,
        status: 'delay',
        delayMs,
        ...(fault.match ? { match: fault.match } : {}),
      });
    },
    hang(method, path, fault = {}) {
      faults.push({
        method,
        path,
        left: fault.times ?? 1,
        status: 'hang',
        ...(fault.match ? { match: fault.match } : {}),
      });
    },
    pendingFaults: () => faults.reduce((n, f) => n + f.left, 0),
    callsTo: (method, path) => calls.filter((c) => c.method === method && match(c.path, path)),
    sentTo,
    waitForSent,
    async waitForMessages(filter, count, what, timeoutMs) {
      await waitForSent((all) => all.filter(filter).length >= count, what, timeoutMs);
      return sent.filter(filter);
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const timer of timers) clearTimeout(timer);
        for (const res of held) res.socket?.destroy();
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return emulator;
}

/** The envelope Webex POSTs to a webhook's targetUrl (reference §8.3). */
function deliveryPayload(options: {
  resource: 'messages' | 'attachmentActions';
  data: Record<string, unknown>;
  actorId?: string;
  event?: string;
}): Record<string, unknown> {
  return {
    id: webexId('WEBHOOK'),
    name: `instant-connect ${options.resource}`,
    targetUrl: 'https://visits.example.org/hooks/webex',
    resource: options.resource,
    event: options.event ?? 'created',
    orgId: 'OTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh',
    createdBy: webexId('PEOPLE'),
    appId: 'Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL0My',
    ownedBy: 'creator',
    status: 'active',
    created: new Date().toISOString(),
    ...(options.actorId ? { actorId: options.actorId } : {}),
    data: options.data,
  };
}

/** The delivery for a seeded message (what Webex sends when it is created). */
export function messageDelivery(message: EmulatedMessage): Record<string, unknown> {
  return deliveryPayload({
    resource: 'messages',
    actorId: message.personId,
    data: {
      id: message.id,
      roomId: message.roomId,
      roomType: message.roomType,
      personId: message.personId,
      personEmail: message.personEmail,
      ...(message.mentionedPeople ? { mentionedPeople: message.mentionedPeople } : {}),
      created: message.created,
    },
  });
}

export function actionDelivery(action: EmulatedAction): Record<string, unknown> {
  return deliveryPayload({
    resource: 'attachmentActions',
    actorId: action.personId,
    data: {
      id: action.id,
      type: action.type,
      messageId: action.messageId,
      roomId: action.roomId,
      personId: action.personId,
      created: action.created,
    },
  });
}

export function sparkSignatureOf(secret: string, raw: string | Buffer): string {
  return createHmac('sha1', secret).update(raw).digest('hex');
}

export interface DeliveryAnswer {
  status: number;
  text: string;
  body: any;
  /** Milliseconds from sending to the whole answer. */
  ms: number;
}

/**
 * POSTs a delivery like Webex: the payload (an object is serialised once; a string or Buffer is
 * sent byte for byte) with `X-Spark-Signature` = hex HMAC-SHA1(secret, raw bytes). `signature`
 * overrides the header (null: no header).
 */
export async function signedDelivery(
  url: string,
  secret: string,
  payload: unknown,
  options: { signature?: string | null } = {},
): Promise<DeliveryAnswer> {
  const raw =
    typeof payload === 'string' || Buffer.isBuffer(payload)
      ? Buffer.from(payload as string | Buffer)
      : Buffer.from(JSON.stringify(payload));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Webex-Webhooks (emulated)',
  };
  const signature = options.signature === undefined ? sparkSignatureOf(secret, raw) : options.signature;
  if (signature !== null) headers['x-spark-signature'] = signature;
  const started = Date.now();
  const response = await fetch(url, { method: 'POST', headers, body: raw });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, text, body, ms: Date.now() - started };
}

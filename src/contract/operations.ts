/**
 * Every route the server registers, as OpenAPI operations. The request and response schemas are
 * the TypeBox definitions the routes and services validate with and produce (imported, never
 * copied); this file only says which route uses which, with the words a reader needs.
 * test/openapi checks that this list and the routes the app registers are the same set.
 */

import { WebexDeliverySchema, WebhookReceiptSchema } from '../bot/bot.js';
import { JoseEncryptWireBody } from '../broker/coerce.js';
import { SpaceInfoSchema } from '../broker/service.js';
import { AUDIENCE, VERTICALS } from '../domain/constants.js';
import { V1Response, V2Response } from '../domain/schema.js';
import { AddLinksInput, VisitInput } from '../domain/visit-input.js';
import type { ErrorName } from '../errors.js';
import {
  CreatedSubscriptionSchema,
  DeliveryListQuery,
  DeliveryListSchema,
  DeliverySchema,
  RotatedSchema,
  RotateInput,
  SubscriptionId,
  SubscriptionInput,
  SubscriptionListSchema,
  SubscriptionSchema,
} from '../events/service.js';
import { IdempotencyKey, TriggerInput, TriggerResultSchema } from '../hooks/trigger.js';
import { MeetingDeliverySchema, MeetingReceiptSchema } from '../meetings/telemetry.js';
import { TwilioInboundForm, TwilioStatusForm } from '../sms/service.js';
import { LiveStatusSchema, LiveTicketInput, TicketString } from '../visits/live.js';
import {
  CancelledVisitSchema,
  LinkDeliveryListSchema,
  QueuedResendSchema,
  ResendInputSchema,
  RevokedLinkSchema,
  VisitEventListSchema,
  VisitId,
  VisitListSchema,
  VisitViewSchema,
} from '../visits/service.js';
import {
  CsrfForm,
  HealthSchema,
  LinkQuery,
  ReadySchema,
  SignInForm,
  StaffListQuery,
  StaffVisitUpdateSchema,
  UnavailableSchema,
  VisitForm,
  VisitListQuery,
} from './schemas.js';

export type SecurityName =
  | 'apiKey'
  | 'hookId'
  | 'hookTimestamp'
  | 'hookSignature'
  | 'sparkSignature'
  | 'twilioSignature'
  | 'staffSession';

interface ParameterSpec {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema: object;
  description?: string;
}

interface ExampleSpec {
  summary: string;
  value: unknown;
}

interface BodySpec {
  schema: object;
  mediaType: 'application/json' | 'application/x-www-form-urlencoded';
  required: boolean;
  description?: string;
  examples?: Record<string, ExampleSpec>;
}

interface HeaderSpec {
  description: string;
  schema: object;
  required?: boolean;
}

export interface ResponseSpec {
  description: string;
  /** Media type → schema (undefined: a body whose shape the schema cannot say, e.g. HTML). */
  content?: Record<string, { schema?: object; eventData?: object }>;
  headers?: Record<string, HeaderSpec>;
}

export interface OperationSpec {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI path template (`{id}`), the route's `:id`. */
  path: string;
  operationId: string;
  tag: TagName;
  summary: string;
  description?: string;
  /** Alternatives, each a set of schemes that all apply; absent: no credentials. */
  security?: SecurityName[][];
  parameters?: ParameterSpec[];
  body?: BodySpec;
  /** Status → the response, or the name of an error response (`401: 'Unauthorized'`). */
  responses: Record<string, ResponseSpec | ErrorName>;
}

export const TAGS = {
  joseencrypt: "Links the way Cisco's mtg-broker makes them: the same request and answer, v2 and v1.",
  'Link pages':
    "What a link opens on this broker: short links, the long-link pages (the visit's lobby) and Cisco's space API.",
  Visits: 'Visits with a subject, a window, links, a state and an event log. Bearer API key.',
  'Outbound events':
    'Subscriptions to visit events, POSTed to your URL and signed as Standard Webhooks says (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once, in order per visit. Bearer API key.',
  'Live visits':
    "The API of the visit pages: join, leave, end and a live status stream, authorised by the page's signed ticket.",
  Webhooks:
    'Webhooks in: the workflow trigger (a visit from one request, signed or with an API key) and the Webex bot.',
  'Staff pages':
    'The staff page: HTML forms with a session cookie and a CSRF token. For people in a browser, not for programs.',
  Operations: 'Health, readiness and Prometheus metrics.',
  Documentation: 'This description, its reference page and the static assets of the pages.',
} as const;
type TagName = keyof typeof TAGS;

// —— building blocks ——

const JSON_TYPE = 'application/json';
const HTML_TYPE = 'text/html';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const Text = { type: 'string' };

const json = (description: string, schema: object, headers?: Record<string, HeaderSpec>): ResponseSpec => ({
  description,
  content: { [JSON_TYPE]: { schema } },
  ...(headers ? { headers } : {}),
});
const html = (description: string, headers?: Record<string, HeaderSpec>): ResponseSpec => ({
  description,
  content: { [HTML_TYPE]: { schema: Text } },
  ...(headers ? { headers } : {}),
});
const redirect = (description: string, location: string): ResponseSpec => ({
  description,
  headers: { Location: { description: location, schema: { type: 'string' }, required: true } },
});
/** An error a browser sees as a page and a program as the envelope (chosen by `Accept`). */
const pageOrEnvelope = (description: string): ResponseSpec => ({
  description: `${description} A page for \`Accept: text/html\`, else the error envelope.`,
  content: {
    [HTML_TYPE]: { schema: Text },
    [JSON_TYPE]: { schema: { $ref: '#/components/schemas/WebexError' } },
  },
});
const jsonBody = (
  schema: object,
  options: { required?: boolean; description?: string; examples?: Record<string, ExampleSpec> } = {},
): BodySpec => ({
  schema,
  mediaType: JSON_TYPE,
  required: options.required ?? true,
  ...(options.description ? { description: options.description } : {}),
  ...(options.examples ? { examples: options.examples } : {}),
});
const formBody = (schema: object): BodySpec => ({ schema, mediaType: FORM_TYPE, required: true });
const locationHeader = (description: string): Record<string, HeaderSpec> => ({
  Location: { description, schema: { type: 'string' }, required: true },
});

const visitIdParam: ParameterSpec = {
  name: 'id',
  in: 'path',
  required: true,
  schema: VisitId,
};
const subscriptionIdParam: ParameterSpec = {
  name: 'id',
  in: 'path',
  required: true,
  schema: SubscriptionId,
};
const queryOf = (object: { properties: Record<string, object>; required?: string[] }): ParameterSpec[] =>
  Object.entries(object.properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: (object.required ?? []).includes(name),
    schema,
  }));
const ticketQuery = (required: boolean): ParameterSpec => ({
  name: 'ticket',
  in: 'query',
  required,
  schema: TicketString,
  description: required ? undefined : 'The ticket, when the body does not carry it.',
});

const BEARER: SecurityName[][] = [['apiKey']];
const STAFF: SecurityName[][] = [['staffSession']];

/** The lab's minimal body, and the same with short links. */
const LAB_EXAMPLES: Record<string, ExampleSpec> = {
  minimal: {
    summary: "The lab's minimal body: one host and one guest link, valid 15 minutes",
    value: { jwt: { sub: 'lab-visit-0001' }, aud: AUDIENCE },
  },
  shortUrls: {
    summary: 'With short links (v2 answers `short` codes and a `baseUrl`)',
    value: { jwt: { sub: 'lab-visit-0002' }, aud: AUDIENCE, provideShortUrls: true },
  },
};

const joseencrypt = (version: 'v1' | 'v2'): OperationSpec => ({
  method: 'post',
  path: `/api/${version}/joseencrypt`,
  operationId: version === 'v2' ? 'createLinks' : 'createLinksV1',
  tag: 'joseencrypt',
  summary: version === 'v2' ? 'Make host and guest links' : 'Make host and guest links (v1 answer)',
  description:
    version === 'v2'
      ? 'The body of Cisco\'s `POST /api/v2/joseencrypt`: the same answer comes from Cisco\'s brokers (with a Webex bot token) and from this one (with an API key). A long link is `<base>/<verticalType>/v1/<login|talk>?int=jose&v=1&data=<cipher>`; a short one is `baseUrl + short`. Canonical strings (`"true"`, `"2"`) are accepted for booleans and counts, as Cisco\'s broker does. The links are also recorded as a visit of their subject.'
      : 'The v1 answer lists the ciphers as strings and has no short links (`provideShortUrls` is ignored).',
  security: BEARER,
  body: jsonBody(JoseEncryptWireBody, {
    examples: version === 'v2' ? LAB_EXAMPLES : { minimal: LAB_EXAMPLES['minimal']! },
  }),
  responses: {
    200: json(
      version === 'v2' ? 'The links: one entry per host and per guest.' : 'The ciphers.',
      version === 'v2' ? V2Response : V1Response,
    ),
    400: 'BadRequest',
    401: 'Unauthorized',
    413: 'PayloadTooLarge',
    415: 'UnsupportedMediaType',
    429: 'TooManyRequests',
    503: 'ServiceUnavailable',
  },
});

const space = (method: 'get' | 'post', slash: boolean): OperationSpec => ({
  method,
  path: slash ? '/api/v1/space/' : '/api/v1/space',
  operationId: `${method === 'get' ? 'getSpace' : 'postSpace'}${slash ? 'Slash' : ''}`,
  tag: 'Link pages',
  summary: `Who a link is, and its meeting space${slash ? ' (trailing slash)' : ''} (${method.toUpperCase()})`,
  description:
    "Cisco's space API, answered by this broker for its own links. The cipher is the credential: no API key. Failed openings are limited per address; this broker's own links never count against it.",
  parameters: queryOf(LinkQuery),
  ...(method === 'post'
    ? {
        body: jsonBody(
          { type: 'object', description: 'Ignored: the cipher is the `data` query parameter.' },
          {
            required: false,
            description: "Optional and ignored; Cisco's samples send `{}`.",
            examples: { empty: { summary: "Cisco's samples", value: {} } },
          },
        ),
      }
    : {}),
  responses: {
    200: json('The link is valid now.', SpaceInfoSchema),
    400: 'BadRequest',
    403: 'Forbidden',
    404: 'NotFound',
    410: 'Gone',
    429: 'TooManyRequests',
    503: 'ServiceUnavailable',
  },
});

export const OPERATIONS: OperationSpec[] = [
  joseencrypt('v2'),
  joseencrypt('v1'),

  // —— link pages ——
  {
    method: 'get',
    path: '/visit/{code}',
    operationId: 'openShortLink',
    tag: 'Link pages',
    summary: 'Follow a short link',
    description:
      "A short link of this broker (7 characters) redirects to the long link (`baseUrl + short` is this URL). A gateway link (10 characters: a visit's `gatewayUrl`, for visits on Cisco's brokers) redirects to the broker's short URL, else its long URL, while the visit is open; before its window, after it, once cancelled or withdrawn it answers a page saying so (or, without `text/html` in Accept, the JSON error), and records no opening. Each redirect of a gateway link records `link.opened` (at most one event per link per minute).",
    parameters: [
      {
        name: 'code',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[A-Za-z0-9]{1,16}$' },
        description: "The `short` code of a v2 answer, or the code of a visit link's `gatewayUrl`.",
      },
    ],
    responses: {
      302: redirect(
        "To the long link, or (gateway links) to the broker's URL.",
        "The long link on this server, or the broker's short or long URL.",
      ),
      403: pageOrEnvelope(
        'Gateway links: the window has not opened yet (the page counts down) or has closed.',
      ),
      404: pageOrEnvelope('No link has this code.'),
      410: pageOrEnvelope('Gateway links: the visit was cancelled, or this link was withdrawn.'),
      429: 'TooManyRequests',
    },
  },
  {
    method: 'get',
    path: '/{vertical}/v1/{page}',
    operationId: 'openLinkPage',
    tag: 'Link pages',
    summary: 'Open a long link (the visit page)',
    description:
      "The page a link opens: for this broker's visits, the lobby (guests wait until a host joins; the page then follows `/live/events`). The page holds a signed ticket, never the token.",
    parameters: [
      { name: 'vertical', in: 'path', required: true, schema: { enum: [...VERTICALS] } },
      {
        name: 'page',
        in: 'path',
        required: true,
        schema: { enum: ['login', 'talk'] },
        description: '`login`: hosts asked to sign in to Webex; `talk`: no login.',
      },
      ...queryOf(LinkQuery),
    ],
    responses: {
      200: html('The visit page.'),
      400: pageOrEnvelope('The link carries no cipher, or a cipher that is not valid.'),
      403: html('The link has expired, or does not open yet (the page says when).'),
      404: 'NotFound',
      410: html('The visit was cancelled: its links no longer work.'),
      429: pageOrEnvelope('Too many failed openings or requests from this address.'),
      503: 'ServiceUnavailable',
    },
  },
  space('get', false),
  space('post', false),
  space('get', true),
  space('post', true),

  // —— visits ——
  {
    method: 'post',
    path: '/api/visits',
    operationId: 'createVisit',
    tag: 'Visits',
    summary: 'Make a visit',
    description:
      'Makes the links (short by default) with one subject, records the visit and answers it. No body at all means every default: now, 15 minutes, one host, one guest.',
    security: BEARER,
    body: jsonBody(VisitInput, {
      required: false,
      examples: {
        scheduled: {
          summary: 'In ten minutes for 45 minutes, two guests',
          value: { subject: 'Clinic room 4', start: '+10m', ttl: '45m', guests: 2 },
        },
        local: {
          summary: 'At a local time in a time zone',
          value: { start: '2030-11-28 14:30', timeZone: 'Europe/London', ttl: '30m' },
        },
        recipients: {
          summary: 'With recipients: each gets their link by email, with an invitation (SMTP_URL)',
          value: {
            subject: 'Follow-up',
            start: '+1h',
            ttl: '30m',
            recipients: [
              {
                role: 'guest',
                name: 'Ana',
                email: 'ana@example.com',
                language: 'es',
                timeZone: 'Europe/Madrid',
              },
              { role: 'host', email: 'dr.lopez@example.com' },
            ],
          },
        },
      },
    }),
    responses: {
      201: json('The visit.', VisitViewSchema, locationHeader('`/api/visits/{id}`')),
      400: 'BadRequest',
      401: 'Unauthorized',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
      429: 'TooManyRequests',
      502: 'BadGateway',
      503: 'ServiceUnavailable',
      504: 'GatewayTimeout',
    },
  },
  {
    method: 'get',
    path: '/api/visits',
    operationId: 'listVisits',
    tag: 'Visits',
    summary: 'List visits',
    description: 'Newest window first, with filters and pages.',
    security: BEARER,
    parameters: queryOf(VisitListQuery),
    responses: {
      200: json('A page of visits.', VisitListSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
    },
  },
  {
    method: 'get',
    path: '/api/visits/{id}',
    operationId: 'getVisit',
    tag: 'Visits',
    summary: 'Read a visit',
    description:
      'The visit with its links, window and state as of now (`state`: scheduled, open, waiting, live, ended, no_show (with `missing`), expired or cancelled).',
    security: BEARER,
    parameters: [visitIdParam],
    responses: {
      200: json('The visit, its state as of now.', VisitViewSchema),
      401: 'Unauthorized',
      404: 'NotFound',
    },
  },
  {
    method: 'delete',
    path: '/api/visits/{id}',
    operationId: 'cancelVisit',
    tag: 'Visits',
    summary: 'Cancel a visit',
    description:
      "This broker's links stop working at once (their pages say the visit was cancelled). So do gateway links (visits on Cisco's brokers made with `PUBLIC_URL` set): `cancellation.opened` names the links someone had already opened (they hold Cisco's URL, which may still work at Cisco until the window ends) and `cancellation.stopped` the others. Links handed out as Cisco's own URLs cannot be revoked there: `cancellation.linksStopped` is then false and `detail` says what was done.",
    security: BEARER,
    parameters: [visitIdParam],
    responses: {
      200: json('The cancelled visit.', CancelledVisitSchema),
      401: 'Unauthorized',
      404: 'NotFound',
      409: 'Conflict',
      502: 'BadGateway',
    },
  },
  {
    method: 'delete',
    path: '/api/visits/{id}/links/{role}/{index}',
    operationId: 'revokeVisitLink',
    tag: 'Visits',
    summary: 'Withdraw one link',
    description:
      'The link stops at once and the visit goes on: a gateway link leads to a "withdrawn" page (410), a link of this broker opens a "withdrawn" page instead of the visit. A gateway link already opened may still work at Cisco until the window ends (`revocation.linkStopped` false). A link handed out as Cisco\'s own URL cannot be withdrawn (409, saying why). Appends `link.revoked` to the event log.',
    security: BEARER,
    parameters: [
      visitIdParam,
      { name: 'role', in: 'path', required: true, schema: { enum: ['host', 'guest'] } },
      {
        name: 'index',
        in: 'path',
        required: true,
        schema: { type: 'integer', minimum: 0, examples: [0] },
        description: 'Position among the links of its role, from 0 (as `index` in the visit).',
      },
    ],
    responses: {
      200: json('The visit, and what withdrawing the link did.', RevokedLinkSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      409: 'Conflict',
    },
  },
  {
    method: 'post',
    path: '/api/visits/{id}/links/{role}/{index}/resend',
    operationId: 'resendVisitLink',
    tag: 'Visits',
    summary: "Send a link's notice again",
    description:
      "Queues the link's notice (its link and the same calendar invitation) to its recipient again, on the recipient's channel or on `channel`. Its attempts are delivery records with trigger `resend` and the caller as actor. 400 naming the field when the link has no recipient, the recipient has no address for that channel, or the channel is off on this server; 409 when the visit is over or cancelled.",
    security: BEARER,
    parameters: [
      visitIdParam,
      { name: 'role', in: 'path', required: true, schema: { enum: ['host', 'guest'] } },
      {
        name: 'index',
        in: 'path',
        required: true,
        schema: { type: 'integer', minimum: 0, examples: [0] },
        description: 'Position among the links of its role, from 0 (as `index` in the visit).',
      },
    ],
    body: jsonBody(ResendInputSchema, {
      required: false,
      examples: { sms: { summary: 'By SMS this time', value: { channel: 'sms' } } },
    }),
    responses: {
      202: json('The queued delivery.', QueuedResendSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      409: 'Conflict',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },
  {
    method: 'post',
    path: '/api/visits/{id}/links',
    operationId: 'addVisitLinks',
    tag: 'Visits',
    summary: 'Add host or guest links to a visit',
    description: 'Same subject, same window, same meeting space.',
    security: BEARER,
    parameters: [visitIdParam],
    body: jsonBody(AddLinksInput, {
      examples: { guest: { summary: 'One more guest', value: { guests: 1 } } },
    }),
    responses: {
      201: json('The visit with its new links.', VisitViewSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      409: 'Conflict',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
      429: 'TooManyRequests',
      502: 'BadGateway',
      503: 'ServiceUnavailable',
    },
  },
  {
    method: 'get',
    path: '/api/visits/{id}/events',
    operationId: 'listVisitEvents',
    tag: 'Visits',
    summary: "A visit's event log",
    description:
      'Append-only, oldest first: created, links added, joined, left, devices, ended, cancelled, deliveries.',
    security: BEARER,
    parameters: [visitIdParam],
    responses: {
      200: json('The events.', VisitEventListSchema),
      401: 'Unauthorized',
      404: 'NotFound',
    },
  },
  {
    method: 'get',
    path: '/api/visits/{id}/deliveries',
    operationId: 'listVisitDeliveries',
    tag: 'Visits',
    summary: "A visit's delivery records",
    description:
      "Every attempt to send a link to its recipient, oldest first: the channel, the address, what triggered it (`visit.created`, `visit.cancelled`, `visit.reminder`) and who, the attempt number, the provider's id, the status (`sent`, `queued`, `failed`, `skipped`) and the error. A success is also a `link.delivered` event, a final failure a `link.delivery_failed` event.",
    security: BEARER,
    parameters: [visitIdParam],
    responses: {
      200: json('The delivery records.', LinkDeliveryListSchema),
      401: 'Unauthorized',
      404: 'NotFound',
    },
  },

  // —— outbound events ——
  {
    method: 'post',
    path: '/api/events/subscriptions',
    operationId: 'createEventSubscription',
    tag: 'Outbound events',
    summary: 'Subscribe a URL to visit events',
    description:
      'Every event of the listed types is POSTed to `url` as `{"type", "timestamp", "data": {"visitId", "eventId", "actor", …}}` (never the subject: it may hold a patient\'s name), signed with the secret answered here once. Loopback, private, link-local and metadata addresses are refused (400 naming `url`) unless the server sets EVENTS_ALLOW_PRIVATE; a host name is checked again when it resolves, and on every redirect.',
    security: BEARER,
    body: jsonBody(SubscriptionInput, {
      examples: {
        ehr: {
          summary: 'Created and cancelled visits, to an EHR',
          value: {
            url: 'https://ehr.example.org/webhooks/visits',
            types: ['visit.created', 'visit.cancelled'],
          },
        },
      },
    }),
    responses: {
      201: json(
        'The subscription, with its secret (shown this once).',
        CreatedSubscriptionSchema,
        locationHeader('`/api/events/subscriptions/{id}`'),
      ),
      400: 'BadRequest',
      401: 'Unauthorized',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },
  {
    method: 'get',
    path: '/api/events/subscriptions',
    operationId: 'listEventSubscriptions',
    tag: 'Outbound events',
    summary: 'List subscriptions',
    description:
      'Oldest first, stopped ones included (`active: false`, with `disabledReason`). Never a secret.',
    security: BEARER,
    responses: { 200: json('The subscriptions.', SubscriptionListSchema), 401: 'Unauthorized' },
  },
  {
    method: 'get',
    path: '/api/events/subscriptions/{id}',
    operationId: 'getEventSubscription',
    tag: 'Outbound events',
    summary: 'Read a subscription',
    security: BEARER,
    parameters: [subscriptionIdParam],
    responses: { 200: json('The subscription.', SubscriptionSchema), 401: 'Unauthorized', 404: 'NotFound' },
  },
  {
    method: 'delete',
    path: '/api/events/subscriptions/{id}',
    operationId: 'deleteEventSubscription',
    tag: 'Outbound events',
    summary: 'Unsubscribe',
    description: 'Nothing more is sent; its pending deliveries fail with `unsubscribed`. Its history stays.',
    security: BEARER,
    parameters: [subscriptionIdParam],
    responses: {
      200: json('The stopped subscription.', SubscriptionSchema),
      401: 'Unauthorized',
      404: 'NotFound',
    },
  },
  {
    method: 'post',
    path: '/api/events/subscriptions/{id}/rotate',
    operationId: 'rotateEventSubscriptionSecret',
    tag: 'Outbound events',
    summary: 'Rotate the signing secret',
    description:
      'A new secret, answered once. Until `previousSecretUntil` (`grace`, 24h by default) each delivery carries two signatures, one per secret, space-separated in `webhook-signature`, so a receiver can move over without a failed check.',
    security: BEARER,
    parameters: [subscriptionIdParam],
    body: jsonBody(RotateInput, {
      required: false,
      examples: { hour: { summary: 'One hour of grace', value: { grace: '1h' } } },
    }),
    responses: {
      200: json('The new secret.', RotatedSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      415: 'UnsupportedMediaType',
    },
  },
  {
    method: 'get',
    path: '/api/events/deliveries',
    operationId: 'listEventDeliveries',
    tag: 'Outbound events',
    summary: 'List deliveries with their attempts',
    description: 'Newest first; each with every attempt (time, HTTP status, latency, error).',
    security: BEARER,
    parameters: queryOf(DeliveryListQuery),
    responses: { 200: json('The deliveries.', DeliveryListSchema), 400: 'BadRequest', 401: 'Unauthorized' },
  },
  {
    method: 'post',
    path: '/api/events/deliveries/{id}/replay',
    operationId: 'replayEventDelivery',
    tag: 'Outbound events',
    summary: 'Send a delivery again',
    description:
      'Queues a delivered or failed delivery again with the same `webhook-id`, so a receiver that already has it can tell. 409 while it is still pending, or when its subscription stopped.',
    security: BEARER,
    parameters: [
      {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'string', pattern: '^[0-9]{1,15}$' },
        description: 'The delivery id.',
      },
    ],
    responses: {
      202: json('Queued.', DeliverySchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      409: 'Conflict',
    },
  },

  // —— live visits ——
  ...(['join', 'leave', 'end'] as const).map(
    (action): OperationSpec => ({
      method: 'post',
      path: `/live/${action}`,
      operationId: `live${action[0]!.toUpperCase()}${action.slice(1)}`,
      tag: 'Live visits',
      summary: {
        join: 'Join the visit (the first host starts it and dials its devices)',
        leave: 'Leave the visit (a guest can rejoin while the link is valid)',
        end: 'End the visit for everyone (hosts only)',
      }[action],
      description: "Authorised by the visit page's ticket (in the body or the `ticket` query parameter).",
      parameters: [ticketQuery(false)],
      body: jsonBody(LiveTicketInput, { required: false }),
      responses: {
        200:
          action === 'leave'
            ? json('Left.', {
                type: 'object',
                properties: { ok: { const: true } },
                required: ['ok'],
              })
            : json('The status after the change.', LiveStatusSchema),
        400: 'BadRequest',
        403: 'Forbidden',
        404: 'NotFound',
        410: 'Gone',
        413: 'PayloadTooLarge',
        415: 'UnsupportedMediaType',
        429: 'TooManyRequests',
      },
    }),
  ),
  {
    method: 'get',
    path: '/live/status',
    operationId: 'liveStatus',
    tag: 'Live visits',
    summary: "The visit's status as the page shows it",
    description: "Authorised by the visit page's ticket. The same status `/live/events` streams, once.",
    parameters: [ticketQuery(true)],
    responses: {
      200: json('The status.', LiveStatusSchema),
      403: 'Forbidden',
      404: 'NotFound',
      429: 'TooManyRequests',
    },
  },
  {
    method: 'get',
    path: '/live/events',
    operationId: 'liveEvents',
    tag: 'Live visits',
    summary: 'Follow the status live (server-sent events)',
    description:
      'A `text/event-stream`: an `event: status` whose `data` is a LiveStatus, at once and after every change (coalesced, at most one every 250 ms), and a `: ping` comment every 15 s. While it is open, its link counts as present (one participant per link, however many pages). The server ends the stream after the final status at the visit\'s end, at its cancellation and at the ticket\'s expiry, with an `event: end` whose `data` is `{"reason": "ended" | "expired" | "cancelled" | "gone" | "ticket-expired" | "closing"}` (`closing`: the server is stopping; reconnect later). A link holds at most 2 streams and an address 50 (429), an instance 500 (503), all with `Retry-After`; an ended or cancelled visit opens none (410).',
    parameters: [ticketQuery(true)],
    responses: {
      200: {
        description: 'The stream.',
        content: { 'text/event-stream': { schema: Text, eventData: LiveStatusSchema } },
      },
      403: 'Forbidden',
      404: 'NotFound',
      410: 'Gone',
      429: 'TooManyRequests',
      503: 'ServiceUnavailable',
    },
  },

  // —— webhooks ——
  {
    method: 'post',
    path: '/hooks/visits',
    operationId: 'triggerVisit',
    tag: 'Webhooks',
    summary: 'Make a visit from a workflow (signed webhook)',
    description:
      'For workflow engines and schedulers: a visit from one request, with flat `hostUrl`, `guestUrl` and `guestUrls` fields. Authenticate with an API key, or sign the raw body with a hook secret (`instant-connect hooks create`): `X-IC-Hook`, `X-IC-Timestamp` (epoch seconds, within 300 s) and `X-IC-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; a signature is accepted once. With `notify`, the bot sends the host link to the host and the guest links to the guests.',
    security: [['apiKey'], ['hookId', 'hookTimestamp', 'hookSignature']],
    parameters: [
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        schema: IdempotencyKey,
        description:
          'A retry with the same key and body answers the same visit (with `Idempotent-Replayed: true`); the same key with another body is a 409.',
      },
    ],
    body: jsonBody(TriggerInput, {
      examples: {
        visit: { summary: 'A visit now, for 30 minutes', value: { subject: 'Video visit 1234', ttl: '30m' } },
        notify: {
          summary: 'And the bot sends the links (needs WEBEX_TOKEN on the server)',
          value: {
            subject: 'Video visit 1235',
            start: '+15m',
            ttl: '30m',
            notify: { host: 'doctor@example.org', guests: { toPersonEmail: 'patient@example.com' } },
          },
        },
      },
    }),
    responses: {
      201: json('The visit, with flat link fields.', TriggerResultSchema, {
        ...locationHeader('`/api/visits/{id}`'),
        'Idempotent-Replayed': {
          description: '`true` when this answers an earlier request with the same Idempotency-Key.',
          schema: { const: 'true' },
        },
      }),
      400: 'BadRequest',
      401: 'Unauthorized',
      409: 'Conflict',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
      429: 'TooManyRequests',
      502: 'BadGateway',
      503: 'ServiceUnavailable',
    },
  },
  {
    method: 'post',
    path: '/hooks/webex',
    operationId: 'receiveWebexWebhook',
    tag: 'Webhooks',
    summary: "The bot's Webex webhook",
    description:
      'Webex calls this (register it with `instant-connect webhook register`). The signature is checked over the raw body, the delivery deduplicated and queued; the answer is immediate.',
    security: [['sparkSignature']],
    body: jsonBody(WebexDeliverySchema),
    responses: {
      200: json('Received.', WebhookReceiptSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },

  {
    method: 'post',
    path: '/hooks/webex/meetings',
    operationId: 'receiveMeetingWebhook',
    tag: 'Webhooks',
    summary: 'Meeting telemetry from Webex',
    description:
      "Webex calls this for the meetings of Cisco visits (register with `instant-connect webhook register --meetings`): meetings started and ended, participants joined and left. The signature (`X-Spark-Signature`, HMAC-SHA1 of the raw body with the meeting webhooks' secret) is checked, the fact deduplicated and queued; matching it to a visit happens in the background. 404 when telemetry is off on this server.",
    security: [['sparkSignature']],
    body: jsonBody(MeetingDeliverySchema),
    responses: {
      200: json('Received.', MeetingReceiptSchema),
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },

  {
    method: 'post',
    path: '/hooks/sms/twilio/status',
    operationId: 'receiveTwilioStatus',
    tag: 'Webhooks',
    summary: "Twilio's SMS status callbacks",
    description:
      "Twilio calls this for each SMS sent with `SMS_PROVIDER=twilio` (the send names it as `StatusCallback` when PUBLIC_URL is set): `queued`, `sent`, `delivered`, `undelivered`, `failed`… A status never moves a message back. Signed with `X-Twilio-Signature` (base64 HMAC-SHA1, keyed with TWILIO_AUTH_TOKEN, of PUBLIC_URL plus the path, then each form field's name and value sorted by name). 404 when SMS through Twilio is off.",
    security: [['twilioSignature']],
    body: formBody(TwilioStatusForm),
    responses: {
      204: { description: 'Recorded (or a message this server did not send: ignored).' },
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },
  {
    method: 'post',
    path: '/hooks/sms/twilio/inbound',
    operationId: 'receiveTwilioInbound',
    tag: 'Webhooks',
    summary: 'SMS replies, from Twilio (STOP, START)',
    description:
      'Set it as the sending number\'s "A message comes in" webhook (HTTP POST). A reply STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) records that the number opted out: no SMS goes to it any more; START (or UNSTOP, YES) lets SMS through again. Signed with `X-Twilio-Signature` like the status callbacks. Answers empty TwiML (Twilio\'s own opt-out replies still go out). 404 when SMS through Twilio is off.',
    security: [['twilioSignature']],
    body: formBody(TwilioInboundForm),
    responses: {
      200: {
        description: 'Empty TwiML: no reply.',
        content: { 'text/xml': { schema: Text } },
      },
      400: 'BadRequest',
      401: 'Unauthorized',
      404: 'NotFound',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
    },
  },

  // —— staff pages ——
  {
    method: 'get',
    path: '/',
    operationId: 'staffHome',
    tag: 'Staff pages',
    summary: 'The staff page: sign in, or make a visit',
    description: 'Signed out: the sign-in form. Signed in: the new-visit form and the next visits.',
    security: [[], ['staffSession']],
    responses: { 200: html('The page.') },
  },
  {
    method: 'post',
    path: '/session',
    operationId: 'staffSignIn',
    tag: 'Staff pages',
    summary: 'Sign in with an API key',
    description:
      'Opens an 8-hour session (an HttpOnly, SameSite=Strict cookie). A form from another site is refused.',
    body: formBody(SignInForm),
    responses: {
      303: {
        ...redirect('Signed in: to the staff page.', '`/`'),
        headers: {
          Location: { description: '`/`', schema: { type: 'string' }, required: true },
          'Set-Cookie': { description: 'The session cookie `ic_session`.', schema: { type: 'string' } },
        },
      },
      401: html('The key is missing, unknown or revoked (the sign-in form says which).'),
      403: html('The form came from another site.'),
    },
  },
  {
    method: 'post',
    path: '/session/end',
    operationId: 'staffSignOut',
    tag: 'Staff pages',
    summary: 'Sign out',
    description: 'Ends the session and clears its cookie. The form carries the CSRF token.',
    security: STAFF,
    body: formBody(CsrfForm),
    responses: {
      303: redirect('Signed out (or not signed in): to the sign-in page.', '`/`'),
      403: html('Another site, or a missing or stale CSRF token.'),
    },
  },
  {
    method: 'post',
    path: '/visits',
    operationId: 'staffCreateVisit',
    tag: 'Staff pages',
    summary: 'Make a visit from the form',
    description:
      "The form's fields become a VisitInput, so the API's rules apply and its messages show next to the fields.",
    security: STAFF,
    body: formBody(VisitForm),
    responses: {
      303: redirect('Made, to the visit; or not signed in, to the sign-in page.', '`/visits/{id}` or `/`'),
      400: html('The form again, with a message next to each field in error.'),
      403: html('Another site, or a missing or stale CSRF token.'),
    },
  },
  {
    method: 'get',
    path: '/visits',
    operationId: 'staffListVisits',
    tag: 'Staff pages',
    summary: 'Visits by tab: upcoming, live, past, cancelled',
    description: "The organisation's visits, one tab at a time, with pages.",
    security: STAFF,
    parameters: queryOf(StaffListQuery),
    responses: {
      200: html('The list.'),
      303: redirect('Not signed in: to the sign-in page.', '`/`'),
    },
  },
  {
    method: 'get',
    path: '/staff/events',
    operationId: 'staffEvents',
    tag: 'Staff pages',
    summary: "Follow the organisation's visits live (server-sent events)",
    description:
      "What the staff pages listen to, so waiting guests, live visits and no-shows show with no reload: a `text/event-stream` of `event: visit` whose `data` is a StaffVisitUpdate, after each change of a visit of the session's organisation (a guest waiting, the wait ending, going live, ending, a no-show, a cancel), coalesced, and a `: ping` comment every 15 s. It ends when the session does. A session holds at most 4 streams (429), an instance 200 (503).",
    security: STAFF,
    responses: {
      200: {
        description: 'The stream.',
        content: { 'text/event-stream': { schema: Text, eventData: StaffVisitUpdateSchema } },
      },
      303: redirect('Not signed in: to the sign-in page.', '`/`'),
      429: 'TooManyRequests',
      503: 'ServiceUnavailable',
    },
  },
  {
    method: 'get',
    path: '/visits/{id}',
    operationId: 'staffVisitPage',
    tag: 'Staff pages',
    summary: 'One visit: its links with QR codes, and its events',
    description: "The page staff share links from, with the visit's state and event log.",
    security: STAFF,
    parameters: [visitIdParam],
    responses: {
      200: html('The visit.'),
      303: redirect('Not signed in: to the sign-in page.', '`/`'),
      404: html('No such visit in this organisation.'),
    },
  },
  {
    method: 'get',
    path: '/visits/{id}/cancel',
    operationId: 'staffCancelPage',
    tag: 'Staff pages',
    summary: 'Confirm cancelling a visit',
    description: 'A form that posts to the same path, with the CSRF token.',
    security: STAFF,
    parameters: [visitIdParam],
    responses: {
      200: html('The confirmation form.'),
      303: redirect('Not signed in: to the sign-in page.', '`/`'),
      404: html('No such visit in this organisation.'),
      409: html('The visit has ended, expired or is already cancelled.'),
    },
  },
  {
    method: 'post',
    path: '/visits/{id}/cancel',
    operationId: 'staffCancelVisit',
    tag: 'Staff pages',
    summary: 'Cancel a visit',
    description: 'The same cancellation as `DELETE /api/visits/{id}`, from the confirmation form.',
    security: STAFF,
    parameters: [visitIdParam],
    body: formBody(CsrfForm),
    responses: {
      303: redirect(
        'Cancelled, back to the visit; or not signed in, to the sign-in page.',
        '`/visits/{id}` or `/`',
      ),
      403: html('Another site, or a missing or stale CSRF token.'),
      404: html('No such visit in this organisation.'),
      409: html('The visit cannot be cancelled any more.'),
    },
  },

  {
    method: 'post',
    path: '/visits/{id}/links/{role}/{index}/resend',
    operationId: 'staffResendLink',
    tag: 'Staff pages',
    summary: "Send a link's notice again",
    description:
      'The same resend as `POST /api/visits/{id}/links/{role}/{index}/resend` (on the recipient\'s own channel), from the "Resend" button of the visit page; the delivery records name the staff member as actor.',
    security: STAFF,
    parameters: [
      visitIdParam,
      { name: 'role', in: 'path', required: true, schema: { enum: ['host', 'guest'] } },
      { name: 'index', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } },
    ],
    body: formBody(CsrfForm),
    responses: {
      303: redirect(
        'Queued, back to the visit; or not signed in, to the sign-in page.',
        '`/visits/{id}` or `/`',
      ),
      400: html('The link has no recipient, or its channel is off on this server.'),
      403: html('Another site, or a missing or stale CSRF token.'),
      404: html('No such visit or link in this organisation.'),
      409: html('The visit is over or cancelled: nothing is sent for it.'),
    },
  },

  // —— operations ——
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    tag: 'Operations',
    summary: 'The process answers',
    description: 'Liveness: answers without touching the database. No credentials.',
    responses: { 200: json('Alive.', HealthSchema) },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    tag: 'Operations',
    summary: 'The database answers too',
    description:
      'Readiness for load balancers: 503 with `Retry-After` while the database does not answer. No credentials.',
    responses: {
      200: json('Ready.', ReadySchema),
      503: json('The database does not answer.', UnavailableSchema, {
        'Retry-After': { description: 'Seconds.', schema: { type: 'integer' } },
      }),
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    description:
      'Requests by route pattern and status, latency, links issued, the crypto queue, rate-limit refusals and job retries. No label carries user data. Served by `instant-connect serve`; restrict it at your proxy.',
    responses: {
      200: {
        description: 'The metrics, in the Prometheus text format.',
        content: { 'text/plain': { schema: Text } },
      },
    },
  },

  // —— documentation ——
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    tag: 'Documentation',
    summary: 'This OpenAPI 3.1 document',
    description:
      "Generated from the schemas the server validates with; `servers` is this server's public URL.",
    responses: { 200: json('The document.', { type: 'object' }) },
  },
  {
    method: 'get',
    path: '/docs',
    operationId: 'docsPage',
    tag: 'Documentation',
    summary: 'This document as a reference page',
    description: 'Rendered on the server: no script and no CDN.',
    responses: { 200: html('The reference.') },
  },
  {
    method: 'get',
    path: '/assets/{file}',
    operationId: 'asset',
    tag: 'Documentation',
    summary: 'Stylesheets and scripts of the pages',
    description: 'Static files under `public/` (the pages use no inline script or style).',
    parameters: [
      {
        name: 'file',
        in: 'path',
        required: true,
        schema: { type: 'string', examples: ['app.css'] },
        description: 'e.g. `app.css`, `docs.css`, `visit.js`.',
      },
    ],
    responses: {
      200: {
        description: 'The file.',
        content: { 'text/css': { schema: Text }, 'application/javascript': { schema: Text } },
      },
      404: pageOrEnvelope('No such file.'),
    },
  },
];

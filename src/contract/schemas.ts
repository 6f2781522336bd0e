/**
 * Schemas of the HTTP operations that belong to no service: queries, forms, health answers, the
 * staff session cookie. The contract (operations.ts) and the routes both read them from here, so
 * neither server/ nor openapi/ has to import the other.
 */
import Type from 'typebox';
import { VERTICALS } from '../domain/constants.js';
import { VISIT_STATES } from '../domain/visit-state.js';

// GET /healthz, /readyz
export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });
const StoreKind = Type.Enum(['sqlite', 'postgres'], { description: 'The database this instance uses.' });
export const ReadySchema = Type.Object({ status: Type.Literal('ready'), store: StoreKind }, { $id: 'Ready' });
export const UnavailableSchema = Type.Object(
  { status: Type.Literal('unavailable'), store: StoreKind },
  { $id: 'Unavailable' },
);

/**
 * The path parameter of every `…/{id}` route, for typing handlers: any string (an id that is not
 * a visit's is a 404 from the service, not a 400).
 */
export const VisitIdParams = Type.Object({ id: Type.String() });
/** DELETE /api/visits/{id}/links/{role}/{index}: strings, checked by the service (400 naming the field). */
export const VisitLinkParams = Type.Object({ id: Type.String(), role: Type.String(), index: Type.String() });

// GET /api/visits
const When = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 64,
    'x-rule': 'now, +2h, 14:30, 2026-11-28 14:30 (in timeZone), ISO-8601 or epoch seconds',
    description,
  });

/** The filters of GET /api/visits (query strings: whole numbers are read from their digits). */
export const VisitListQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Visits per page.' }),
    ),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
    from: Type.Optional(When('Visits whose window ends after this instant (the forms `start` takes).')),
    to: Type.Optional(When('Visits whose window starts before this instant (the forms `end` takes).')),
    timeZone: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'Zone of local times in `from` and `to` (default the server’s).',
      }),
    ),
    state: Type.Optional(Type.Enum([...VISIT_STATES])),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Case-insensitive search in the subject.' })),
  },
  { additionalProperties: false },
);

/** The query of a link page and of the space API: the cipher, as Cisco's links carry it. */
export const LinkQuery = Type.Object({
  data: Type.String({ minLength: 1, description: "The link's cipher (its whole secret: never log it)." }),
  int: Type.Optional(Type.Literal('jose', { description: 'The integration type; only `jose`.' })),
  v: Type.Optional(Type.String({ description: "Ignored (Cisco's links carry `v=1`)." })),
});

// Staff pages (urlencoded forms)
const Text = (description: string) => Type.String({ description });
/** Every form but sign-in carries the session's CSRF token. */
const Csrf = Text("The session's CSRF token, from the page's hidden `_csrf` field.");

/** POST /session (urlencoded): sign in with an API key. */
export const SignInForm = Type.Object({ key: Text('An API key (`ick_…`).') }, { $id: 'SignInForm' });
/** POST /session/end and POST /visits/{id}/cancel (urlencoded). */
export const CsrfForm = Type.Object({ _csrf: Csrf }, { $id: 'CsrfForm' });
/**
 * POST /visits (urlencoded): the "New visit" form. Every field is text as typed; `toVisitInput`
 * turns it into the API's VisitInput, so the API's rules apply.
 */
export const VisitForm = Type.Object(
  {
    _csrf: Csrf,
    subject: Type.Optional(Text('Empty: a unique subject is made.')),
    start: Type.Optional(Text('`YYYY-MM-DDTHH:MM` in `timeZone`, or any start the API reads.')),
    duration: Type.Optional(Text('Minutes, or a duration such as 1h30m.')),
    hosts: Type.Optional(Text('Host links.')),
    guests: Type.Optional(Text('Guest links.')),
    devices: Type.Optional(Text('SIP URIs of room devices, one a line.')),
    shortUrls: Type.Optional(Text('Present (a checked box): short links.')),
    vertical: Type.Optional(Type.Enum([...VERTICALS])),
    hostLogin: Type.Optional(Text('Present (a checked box): host links ask for a Webex login.')),
    gateway: Type.Optional(
      Text(
        "Present (a checked box): gateway links on this service (offered on Cisco's brokers with PUBLIC_URL set); absent: the broker's own links.",
      ),
    ),
    alertTo: Type.Optional(
      Text('An email address: the bot tells this person, 1:1, when a guest waits and no host has joined.'),
    ),
    recipients: Type.Optional(
      Text(
        'Who gets the links by email (SMTP_URL), one a line: `guest ana@example.com`, `host dr@clinic.example`, or an address alone (a guest).',
      ),
    ),
    timeZone: Type.Optional(
      Text("The browser's IANA time zone (filled in by the page's script); empty: UTC."),
    ),
  },
  { $id: 'VisitForm' },
);

/** The tabs of the staff list page. */
export const TABS = ['upcoming', 'live', 'past', 'cancelled'] as const;
export const StaffListQuery = Type.Object({
  tab: Type.Optional(Type.Enum([...TABS], { default: 'upcoming' })),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 999_999, default: 1 })),
});

/** The staff session cookie and its lifetime (the `staffSession` security scheme). */
export const SESSION_COOKIE = 'ic_session';
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

// GET /staff/events: one visit's new state, for the staff pages to update in place.
export const StaffVisitUpdateSchema = Type.Object(
  {
    id: Type.String({ description: 'The visit id.' }),
    state: Type.Enum([...VISIT_STATES]),
    label: Type.String({ description: 'The state as the staff pages show it (`no show (no host)`, …).' }),
    missing: Type.Optional(
      Type.Array(Type.Enum(['host', 'guest']), { description: 'With `no_show`: who did not come.' }),
    ),
  },
  { $id: 'StaffVisitUpdate' },
);

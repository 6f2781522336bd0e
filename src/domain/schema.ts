/**
 * The one schema of the joseencrypt API. TypeBox schemas are JSON Schema: the validator,
 * the TypeScript types, the server's request validation and the OpenAPI document all come
 * from these definitions. `x-rule` is a human phrase the validator uses in its messages.
 */
import Type from 'typebox';
import {
  AUDIENCE,
  DEFAULTS,
  ENCS,
  FLOW_IDS,
  ITERATIONS,
  JWE_ALGS,
  JWS_ALGS,
  MAX_DEVICES,
  MAX_LINKS_PER_CALL,
  SALT_LENGTH,
  SUBJECT_MAX_LENGTH,
  VERTICALS,
} from './constants.js';

export const SIP_URI_PATTERN =
  "^(sips?:)?[A-Za-z0-9._%+'~!-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+(:[0-9]{1,5})?$";

export const Audience = Type.String({
  minLength: 1,
  maxLength: 128,
  default: AUDIENCE,
  description: `The audience of the JWT; Cisco documents the constant ${AUDIENCE}.`,
});
export const Subject = Type.String({
  minLength: 1,
  maxLength: SUBJECT_MAX_LENGTH,
  pattern: '\\S',
  'x-rule': `a non-empty, non-blank string of at most ${SUBJECT_MAX_LENGTH} characters`,
  description: 'Same subject, same meeting space: use a new one for every visit.',
});
export const EpochSeconds = Type.Integer({
  minimum: 0,
  maximum: 1e11 - 1,
  'x-rule': 'a whole number of seconds since 1970-01-01T00:00:00Z',
});
export const SipUri = Type.String({
  maxLength: 256,
  pattern: SIP_URI_PATTERN,
  'x-rule': 'a SIP URI such as room@example.room.wbx2.com or sip:room@example.com',
});
export const FlowDevice = Type.Object({ uri: SipUri }, { additionalProperties: false });
export const Flow = Type.Object(
  {
    id: Type.Enum([...FLOW_IDS], { description: 'Only `sip-no-knock`: dial the devices in `data`.' }),
    data: Type.Array(FlowDevice, { minItems: 1, maxItems: MAX_DEVICES }),
  },
  { additionalProperties: false },
);
export const LinkCount = Type.Integer({ minimum: 0, maximum: MAX_LINKS_PER_CALL });
export const VerticalField = Type.Enum([...VERTICALS], { default: DEFAULTS.verticalType });
export const JweAlgField = Type.Enum([...JWE_ALGS], { default: DEFAULTS.jweAlg });
export const EncField = Type.Enum([...ENCS], { default: DEFAULTS.enc });
export const JwsAlgField = Type.Enum([...JWS_ALGS], { default: DEFAULTS.jwsAlg });
export const SaltLength = Type.Integer({
  minimum: SALT_LENGTH.min,
  maximum: SALT_LENGTH.max,
  description: 'Bytes of PBES2 salt; random in 8..128 when absent.',
});
export const Iterations = Type.Integer({
  minimum: ITERATIONS.min,
  maximum: ITERATIONS.max,
  description: 'PBES2 iteration count (p2c); random in 1000..32767 when absent.',
});

export const JwtClaimsInput = Type.Object(
  {
    sub: Subject,
    nbf: Type.Optional(EpochSeconds),
    exp: Type.Optional(EpochSeconds),
    flow: Type.Optional(Flow),
  },
  { additionalProperties: false },
);

/** Body of `POST /api/v2/joseencrypt` (and v1). */
export const JoseEncryptRequest = Type.Object(
  {
    aud: Audience,
    jwt: JwtClaimsInput,
    numHost: Type.Optional(Type.Integer({ ...LinkCount, default: DEFAULTS.numHost })),
    numGuest: Type.Optional(Type.Integer({ ...LinkCount, default: DEFAULTS.numGuest })),
    provideShortUrls: Type.Optional(Type.Boolean({ default: DEFAULTS.provideShortUrls })),
    verticalType: Type.Optional(VerticalField),
    loginUrlForHost: Type.Optional(Type.Boolean({ default: DEFAULTS.loginUrlForHost })),
    jweAlg: Type.Optional(JweAlgField),
    saltLength: Type.Optional(SaltLength),
    iterations: Type.Optional(Iterations),
    enc: Type.Optional(EncField),
    jwsAlg: Type.Optional(JwsAlgField),
  },
  { additionalProperties: false, $id: 'JoseEncryptRequest' },
);
export type JoseEncryptRequest = Type.Static<typeof JoseEncryptRequest>;
export type FlowSpec = Type.Static<typeof Flow>;

const Cipher = Type.String({ minLength: 1, description: 'A JWE compact serialisation.' });
const ShortCode = Type.String({ minLength: 1, description: 'Appended to baseUrl to make the short URL.' });

export const V2LinkEntry = Type.Object({ cipher: Cipher, short: Type.Optional(ShortCode) });
export const V2Response = Type.Object(
  {
    host: Type.Array(V2LinkEntry),
    guest: Type.Array(V2LinkEntry),
    baseUrl: Type.Optional(Type.String({ description: 'Ends with a slash; present with provideShortUrls.' })),
  },
  { $id: 'JoseEncryptV2Response' },
);
export type V2Response = Type.Static<typeof V2Response>;
export const V1Response = Type.Object(
  { host: Type.Array(Cipher), guest: Type.Array(Cipher) },
  { $id: 'JoseEncryptV1Response' },
);
export type V1Response = Type.Static<typeof V1Response>;

/** Webex's error envelope, plus our own `code` and field paths. */
export const WebexErrorBody = Type.Object(
  {
    message: Type.String(),
    errors: Type.Array(
      Type.Object({
        description: Type.String(),
        path: Type.Optional(Type.String()),
        rule: Type.Optional(Type.String()),
      }),
    ),
    trackingId: Type.String(),
    code: Type.Optional(Type.String()),
  },
  { $id: 'WebexError' },
);
export type WebexErrorBody = Type.Static<typeof WebexErrorBody>;

/**
 * The friendly input for people and programs (SDK, CLI, service). Timestamps are accepted as
 * epoch seconds or ISO-8601 strings here; the SDK also accepts `Date`.
 */
const Instant = Type.Union([Type.String({ minLength: 1 }), EpochSeconds], {
  'x-rule': 'an ISO-8601 date-time (2026-11-28T14:30:00Z) or epoch seconds',
});
const Duration = Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })], {
  'x-rule': 'a duration with a unit such as 45m, 1h30m or PT45M, or a JSON number of seconds',
});
export const CryptoOptions = Type.Object(
  {
    jweAlg: Type.Optional(JweAlgField),
    enc: Type.Optional(EncField),
    jwsAlg: Type.Optional(JwsAlgField),
    saltLength: Type.Optional(SaltLength),
    iterations: Type.Optional(Iterations),
  },
  { additionalProperties: false },
);
export type CryptoOptions = Type.Static<typeof CryptoOptions>;
const FriendlyCount = Type.Integer({ minimum: 0, maximum: 500 });
export const LinkInput = Type.Object(
  {
    subject: Type.Optional(Subject),
    hosts: Type.Optional(Type.Integer({ ...FriendlyCount, default: 1 })),
    guests: Type.Optional(Type.Integer({ ...FriendlyCount, default: 1 })),
    notBefore: Type.Optional(Instant),
    expiresAt: Type.Optional(Instant),
    ttl: Type.Optional(Duration),
    devices: Type.Optional(Type.Array(SipUri, { maxItems: MAX_DEVICES })),
    shortUrls: Type.Optional(Type.Boolean()),
    vertical: Type.Optional(VerticalField),
    hostLogin: Type.Optional(Type.Boolean({ default: true })),
    crypto: Type.Optional(CryptoOptions),
    audience: Type.Optional(Audience),
  },
  { additionalProperties: false, $id: 'LinkInput' },
);
type LinkInputJson = Type.Static<typeof LinkInput>;
/** What `createLinks` takes: the JSON input, with `Date` allowed for the two instants. */
export type LinkRequestInput = Omit<LinkInputJson, 'notBefore' | 'expiresAt'> & {
  notBefore?: Date | string | number;
  expiresAt?: Date | string | number;
};

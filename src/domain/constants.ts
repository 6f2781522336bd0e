/** Facts of the Instant Connect API (see docs and shared reference §3), in one place. */

/** The fixed audience every request sends (Cisco's documented constant). */
export const AUDIENCE = 'a4d886b0-979f-4e2c-a958-3e8c14605e51';

/** Hosts and guests combined that one joseencrypt call may ask for. */
export const MAX_LINKS_PER_CALL = 25;

/** Our own bound on one SDK request, batched into calls of 25: enough for any visit, not a DoS lever. */
export const MAX_LINKS_PER_REQUEST = 500;

/** The broker's default lifetime when `jwt.exp` is absent: 15 minutes. */
export const DEFAULT_TTL_SECONDS = 15 * 60;

export const JWE_ALGS = ['PBES2-HS256+A128KW', 'PBES2-HS384+A192KW', 'PBES2-HS512+A256KW'] as const;
export const ENCS = [
  'A128CBC-HS256',
  'A192CBC-HS384',
  'A256CBC-HS512',
  'A128GCM',
  'A192GCM',
  'A256GCM',
] as const;
export const JWS_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const VERTICALS = ['gen', 'hc'] as const;
export const FLOW_IDS = ['sip-no-knock'] as const;

export type JweAlg = (typeof JWE_ALGS)[number];
export type Enc = (typeof ENCS)[number];
export type JwsAlg = (typeof JWS_ALGS)[number];
export type Vertical = (typeof VERTICALS)[number];
export type Role = 'host' | 'guest';

export const DEFAULTS = {
  numHost: 1,
  numGuest: 1,
  provideShortUrls: false,
  verticalType: 'hc' as Vertical,
  loginUrlForHost: true,
  jweAlg: 'PBES2-HS512+A256KW' as JweAlg,
  enc: 'A256GCM' as Enc,
  jwsAlg: 'HS512' as JwsAlg,
};

export const SALT_LENGTH = { min: 8, max: 128 } as const;
export const ITERATIONS = { min: 1000, max: 32767 } as const;

/** Subjects are free text at Cisco; we bound the length so a subject fits a room title and a URL. */
export const SUBJECT_MAX_LENGTH = 256;

/** Room devices dialled per visit (sip-no-knock). Not documented by Cisco: our choice. */
export const MAX_DEVICES = 25;

/**
 * Epoch seconds above this are taken to be milliseconds (1e11 s is the year 5138),
 * the commonest mistake in published integrations.
 */
export const MILLISECONDS_THRESHOLD = 1e11;

/**
 * How long a request holds its Idempotency-Key while it is served (s): longer than the server's
 * request timeout (30 s), so a live request is never taken over; after it a retry takes over.
 */
export const IDEMPOTENCY_LEASE_SECONDS = 60;
/** How long an Idempotency-Key is remembered from its first use (s), as Stripe: then it is new. */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600;

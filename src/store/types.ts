/**
 * One store interface for every backend (embedded SQLite by default, PostgreSQL to scale out).
 * Methods are async so both backends fit; each method is one transaction.
 */
import type { Role, Vertical } from '../domain/constants.js';

export interface Org {
  /** UUID; the `iss` of every token the broker issues for this organisation. */
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string;
  /** First characters of the key, to recognise it in a list; never enough to use it. */
  prefix: string;
  /** SHA-256 (hex) of the whole key: keys are 190-bit random strings, so a fast hash is enough. */
  hash: string;
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

export interface StoredBrokerKey {
  kid: string;
  /** JSON-safe serialised key material (see crypto/keys.ts); never logged. */
  material: string;
  createdAt: number;
  /** The key that signs new tokens; older keys only open tokens issued before a rotation. */
  active: boolean;
}

export interface ShortLinkRecord {
  code: string;
  orgId: string;
  cipher: string;
  role: Role;
  vertical: Vertical;
  hostLogin: boolean;
  subject: string;
  /** Epoch seconds of the token's exp. */
  expiresAt: number;
  createdAt: number;
}

export interface SpaceRecord {
  id: string;
  orgId: string;
  subject: string;
  /** Small sequential number per store, shown as `visitId` by the space API. */
  seq: number;
  createdAt: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe to call from several instances at once. */
  migrate(): Promise<void>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;

  getOrg(id: string): Promise<Org | undefined>;
  /** The first organisation, created on first start. */
  getDefaultOrg(): Promise<Org | undefined>;
  createOrg(org: Org): Promise<void>;

  createApiKey(key: ApiKeyRecord): Promise<void>;
  listApiKeys(orgId: string): Promise<ApiKeyRecord[]>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** Records use; only writes when the last record is older than `coarseSeconds` (no write per request). */
  touchApiKey(id: string, at: number, coarseSeconds?: number): Promise<void>;
  /** Returns false when no such key (or already revoked). */
  revokeApiKey(orgId: string, id: string, at: number): Promise<boolean>;

  listBrokerKeys(): Promise<StoredBrokerKey[]>;
  /** Adds a key and, when `active`, makes it the only active one. */
  addBrokerKey(key: StoredBrokerKey): Promise<void>;

  /** Inserts all or none; returns the codes that already existed (caller draws new ones). */
  insertShortLinks(links: ShortLinkRecord[]): Promise<string[]>;
  getShortLink(code: string): Promise<ShortLinkRecord | undefined>;

  /** The space of (org, subject), created on first use. Same subject, same space. */
  getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord>;
}

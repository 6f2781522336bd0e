/**
 * API keys of the broker: `ick_` + 32 base62 characters (190 bits), shown once, stored as a
 * SHA-256 hash (a slow hash buys nothing for random keys and would cost every request).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { nowSeconds } from '../domain/time.js';
import { UnauthorizedError, ValidationError } from '../errors.js';
import type { ApiKeyRecord, Org, Store } from '../store/types.js';

const KEY_PATTERN = /^ick_[A-Za-z0-9]{32}$/;
/** A key's last use is kept to the minute: within it, a use writes nothing. */
const LAST_USE_RESOLUTION_SECONDS = 60;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function newKey(): string {
  let body = '';
  while (body.length < 32) {
    for (const byte of randomBytes(48)) if (byte < 248 && body.length < 32) body += BASE62[byte % 62];
  }
  return `ick_${body}`;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

const viewOf = ({ hash: _hash, orgId: _org, ...rest }: ApiKeyRecord): ApiKeyView => rest;

export class ApiKeyService {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = nowSeconds,
  ) {}

  /** Returns the key itself exactly once; only its hash is kept. */
  async create(org: Org, name: string): Promise<{ key: string; record: ApiKeyView }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) {
      throw new ValidationError([
        { path: 'name', rule: 'length', message: 'name must be 1 to 100 characters' },
      ]);
    }
    const key = newKey();
    const record: ApiKeyRecord = {
      id: `key_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
      orgId: org.id,
      name: trimmed,
      prefix: key.slice(0, 8),
      hash: hashApiKey(key),
      createdAt: this.now(),
    };
    await this.store.createApiKey(record);
    return { key, record: viewOf(record) };
  }

  async list(org: Org): Promise<ApiKeyView[]> {
    return (await this.store.listApiKeys(org.id)).map(viewOf);
  }

  async revoke(org: Org, id: string): Promise<boolean> {
    return this.store.revokeApiKey(org.id, id, this.now());
  }

  /** The organisation of a bearer key; UnauthorizedError for a missing, unknown or revoked key. */
  async authenticate(authorization: string | undefined): Promise<{ org: Org; keyId: string }> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new UnauthorizedError('Missing bearer API key: send "Authorization: Bearer ick_…".');
    const key = match[1]!;
    if (!KEY_PATTERN.test(key)) throw new UnauthorizedError('The API key is not valid.');
    const record = await this.store.findApiKeyByHash(hashApiKey(key));
    if (!record) throw new UnauthorizedError('The API key is not valid.');
    if (record.revokedAt !== undefined) throw new UnauthorizedError('The API key has been revoked.');
    const org = await this.store.getOrg(record.orgId);
    if (!org) throw new UnauthorizedError('The API key is not valid.');
    // Checked here first, so a key used within the minute costs no write at all.
    const now = this.now();
    if (record.lastUsedAt === undefined || record.lastUsedAt <= now - LAST_USE_RESOLUTION_SECONDS)
      await this.store.touchApiKey(record.id, now, LAST_USE_RESOLUTION_SECONDS);
    return { org, keyId: record.id };
  }
}

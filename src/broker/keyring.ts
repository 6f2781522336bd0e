/**
 * The broker's keys, loaded from the store. The newest active key issues; older keys open the
 * tokens they issued until they retire. A rotation elsewhere (the CLI, another instance) is seen
 * through a cheap version check (`refresh`) before each issuing call and on an unknown `kid`.
 *
 * Retirement: when a key stops issuing, the store records when it retires: the latest expiry of
 * any visit or short link recorded so far (every link this broker issues is recorded), and never
 * sooner than RETIRE_MARGIN_SECONDS after the rotation (links still being issued with it by
 * instances that had not yet seen the rotation). A retired key opens nothing and signs nothing.
 */

import { type BrokerKey, generateBrokerKey, parseKey, serialiseKey } from '../crypto/keys.js';
import { DEFAULT_TTL_SECONDS } from '../domain/constants.js';
import { nowSeconds } from '../domain/time.js';
import { InstantConnectError } from '../errors.js';
import type { Store } from '../store/types.js';

/** A key that stops issuing stays at least this long: a default-lifetime link plus 5 minutes. */
const RETIRE_MARGIN_SECONDS = DEFAULT_TTL_SECONDS + 5 * 60;

interface LoadedKey {
  key: BrokerKey;
  active: boolean;
  /** Epoch seconds from which the key opens nothing; absent while it issues. */
  retiresAt?: number;
}

/** `active` issues; `opening` no longer issues but opens its tokens; `retired` opens nothing. */
export type KeyState = 'active' | 'opening' | 'retired';

function stateOf(k: LoadedKey, now: number): KeyState {
  return k.active ? 'active' : k.retiresAt !== undefined && now >= k.retiresAt ? 'retired' : 'opening';
}

export class Keyring {
  #keys: LoadedKey[] = [];
  #activeKid: string | undefined;
  #version: number | undefined;
  #checking: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  readonly #now: () => number;

  constructor(
    private readonly store: Store,
    now: () => number = nowSeconds,
  ) {
    this.#now = now;
  }

  async load(): Promise<void> {
    // The version first: keys read after it are at least that new, so a change is never missed.
    const version = await this.store.brokerKeysVersion();
    const stored = await this.store.listBrokerKeys();
    this.#keys = stored.map((s) => ({
      key: parseKey(s.material),
      active: s.active,
      ...(s.retiresAt !== undefined ? { retiresAt: s.retiresAt } : {}),
    }));
    this.#activeKid = stored.find((s) => s.active)?.kid;
    this.#version = version;
  }

  /**
   * Reloads the keys when the store says they changed (one cheap read; on SQLite not even that
   * unless another connection wrote). Concurrent callers share a check, and a caller arriving
   * while one runs waits for the next, so it always sees changes committed before it asked.
   */
  refresh(): Promise<void> {
    if (!this.#checking) {
      this.#checking = this.#check().finally(() => {
        this.#checking = undefined;
      });
      return this.#checking;
    }
    this.#next ??= this.#checking
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        return this.refresh();
      });
    return this.#next;
  }

  async #check(): Promise<void> {
    const version = await this.store.brokerKeysVersion();
    if (version !== this.#version) await this.load();
  }

  /** Loads the keys, making the first one on first start. */
  async ensure(now: number): Promise<void> {
    await this.load();
    if (this.#keys.length === 0) {
      await this.#add(generateBrokerKey(now), now);
    }
  }

  /** A new key issues from now on; tokens of older keys keep opening until those keys retire. */
  async rotate(now: number): Promise<string> {
    const key = generateBrokerKey(now);
    await this.#add(key, now);
    return key.kid;
  }

  async #add(key: BrokerKey, now: number): Promise<void> {
    await this.store.addBrokerKey(
      {
        kid: key.kid,
        material: JSON.stringify(serialiseKey(key)),
        createdAt: key.createdAt,
        active: true,
      },
      { retireNotBefore: now + RETIRE_MARGIN_SECONDS },
    );
    await this.load();
  }

  active(): BrokerKey {
    const key = (this.#keys.find((k) => k.key.kid === this.#activeKid) ?? this.#keys[0])?.key;
    if (!key)
      throw new InstantConnectError('ERR_INTERNAL', 'The broker has no key: start it once to create one');
    return key;
  }

  #live(now: number): LoadedKey[] {
    return this.#keys.filter((k) => k.active || k.retiresAt === undefined || now < k.retiresAt);
  }

  has(kid: string | undefined): boolean {
    return kid !== undefined && this.#live(this.#now()).some((k) => k.key.kid === kid);
  }

  /**
   * The one key to try for a token: the key its `kid` names while it is not retired, or, for a
   * token without a `kid` (ours always carry one), the active key. Never more than one, so a
   * forged token costs one PBKDF2 however many rotations there were.
   */
  forToken(kid: string | undefined, now: number = this.#now()): BrokerKey[] {
    if (kid === undefined) return this.#keys.length > 0 ? [this.active()] : [];
    return this.#live(now)
      .filter((k) => k.key.kid === kid)
      .map((k) => k.key);
  }

  /** Keys that still verify (page tickets): those not retired, the named one first. */
  candidates(kid?: string): BrokerKey[] {
    const live = this.#live(this.#now()).map((k) => k.key);
    return [...live.filter((k) => k.kid === kid), ...live.filter((k) => k.kid !== kid)];
  }

  /** Every key with its state, for `keys list-broker` and rotation messages (no secrets). */
  describe(now: number = this.#now()): Array<{
    kid: string;
    createdAt: number;
    state: KeyState;
    retiresAt?: number;
  }> {
    return this.#keys.map((k) => ({
      kid: k.key.kid,
      createdAt: k.key.createdAt,
      state: stateOf(k, now),
      ...(k.retiresAt !== undefined ? { retiresAt: k.retiresAt } : {}),
    }));
  }

  /**
   * One key WITH its secrets and state, for `keys export-broker`: the one `kid` names (retired
   * ones too), or the active key without a kid. Undefined for a kid the store does not hold.
   */
  find(
    kid?: string,
    now: number = this.#now(),
  ): { key: BrokerKey; state: KeyState; retiresAt?: number } | undefined {
    const found =
      kid === undefined
        ? this.#keys.find((k) => k.key.kid === this.active().kid)
        : this.#keys.find((k) => k.key.kid === kid);
    if (!found) return undefined;
    return {
      key: found.key,
      state: stateOf(found, now),
      ...(found.retiresAt !== undefined ? { retiresAt: found.retiresAt } : {}),
    };
  }

  get size(): number {
    return this.#keys.length;
  }
}

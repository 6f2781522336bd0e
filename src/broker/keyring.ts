/**
 * The broker's keys, loaded from the store. The newest active key issues; every key opens.
 * An unknown `kid` triggers one reload, so a rotation on another instance is honoured here.
 */
import { type BrokerKey, generateBrokerKey, parseKey, serialiseKey } from '../crypto/keys.js';
import { InstantConnectError } from '../errors.js';
import type { Store } from '../store/types.js';

export class Keyring {
  #keys: BrokerKey[] = [];
  #activeKid: string | undefined;

  constructor(private readonly store: Store) {}

  async load(): Promise<void> {
    const stored = await this.store.listBrokerKeys();
    this.#keys = stored.map((s) => parseKey(s.material));
    this.#activeKid = stored.find((s) => s.active)?.kid;
  }

  /** Loads the keys, making the first one on first start. */
  async ensure(now: number): Promise<void> {
    await this.load();
    if (this.#keys.length === 0) {
      await this.#add(generateBrokerKey(now));
    }
  }

  /** A new key issues from now on; tokens of older keys keep opening until they expire. */
  async rotate(now: number): Promise<string> {
    const key = generateBrokerKey(now);
    await this.#add(key);
    return key.kid;
  }

  async #add(key: BrokerKey): Promise<void> {
    await this.store.addBrokerKey({
      kid: key.kid,
      material: JSON.stringify(serialiseKey(key)),
      createdAt: key.createdAt,
      active: true,
    });
    await this.load();
  }

  active(): BrokerKey {
    const key = this.#keys.find((k) => k.kid === this.#activeKid) ?? this.#keys[0];
    if (!key)
      throw new InstantConnectError('ERR_INTERNAL', 'The broker has no key: start it once to create one');
    return key;
  }

  has(kid: string | undefined): boolean {
    return kid !== undefined && this.#keys.some((k) => k.kid === kid);
  }

  /** Keys to try for a token: the named one first, then the rest. */
  candidates(kid?: string): BrokerKey[] {
    const named = this.#keys.filter((k) => k.kid === kid);
    return [...named, ...this.#keys.filter((k) => k.kid !== kid)];
  }

  get size(): number {
    return this.#keys.length;
  }
}

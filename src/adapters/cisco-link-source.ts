/**
 * The LinkSource adapter for Cisco's brokers (commercial, US government or a broker URL), through
 * the SDK with the server's token.
 */
import { InstantConnect } from '../client/instant-connect.js';
import { AUDIENCE } from '../domain/constants.js';
import type { JoseEncryptRequest, LinkRequestInput } from '../domain/schema.js';
import type { Org } from '../store/types.js';
import type { CreatedLinks, LinkSource } from '../visits/link-source.js';

export class CiscoLinkSource implements LinkSource {
  readonly kind: 'commercial' | 'usgov' | 'custom';
  readonly #sdk: InstantConnect;

  constructor(broker: string, token: string, options: { fetch?: typeof fetch; now?: () => number } = {}) {
    this.#sdk = new InstantConnect({ broker, token, ...options });
    const name = this.#sdk.environment.name;
    this.kind = name;
  }

  async create(_org: Org, input: LinkRequestInput, signal?: AbortSignal): Promise<CreatedLinks> {
    const result = await this.#sdk.createLinks(input, signal ? { signal } : {});
    return { result, jtis: new Map() };
  }

  async revoke(_org: Org, subject: string): Promise<{ attempted: boolean; ok: boolean; detail: string }> {
    const body: JoseEncryptRequest = {
      aud: AUDIENCE,
      jwt: { sub: subject, nbf: 0, exp: 0 },
      numHost: 1,
      numGuest: 0,
    };
    try {
      await this.#sdk.encrypt(body, { validate: false });
      return {
        attempted: true,
        ok: true,
        detail:
          "Re-issued the subject with nbf and exp of 0 at Cisco's broker. Cisco documents no revocation: links already handed out may still open until they expire.",
      };
    } catch (err) {
      return {
        attempted: true,
        ok: false,
        detail: `Cisco's broker refused the re-issue (${(err as Error).message}). Links already handed out may still open until they expire.`,
      };
    }
  }
}

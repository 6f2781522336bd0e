/**
 * Where a visit's links come from: the project's own broker (in-process, with each link's jti so
 * cancelling stops it) or Cisco's commercial or US-government broker with the server's token.
 * Both go through the SDK, so batching and validation are the same everywhere.
 */
import { localBrokerFetch } from '../broker/local-transport.js';
import type { BrokerService, IssueResult } from '../broker/service.js';
import { InstantConnect, type LinkResult } from '../client/instant-connect.js';
import { AUDIENCE } from '../domain/constants.js';
import type { JoseEncryptRequest, LinkRequestInput } from '../domain/schema.js';
import type { Org, VisitSource } from '../store/types.js';

export interface CreatedLinks {
  result: LinkResult;
  /** cipher → jti, for links of the local broker. */
  jtis: Map<string, string>;
}

export interface LinkSource {
  readonly kind: VisitSource;
  create(org: Org, input: LinkRequestInput, signal?: AbortSignal): Promise<CreatedLinks>;
  /**
   * Best effort to end a subject's space at the source. Cisco documents no revocation: one
   * production user re-issues the subject with nbf and exp of 0. Returns what was done.
   */
  revoke(org: Org, subject: string): Promise<{ attempted: boolean; ok: boolean; detail: string }>;
}

export class LocalLinkSource implements LinkSource {
  readonly kind = 'local' as const;
  constructor(
    private readonly broker: BrokerService,
    private readonly now: () => number = Date.now,
  ) {}

  async create(org: Org, input: LinkRequestInput, signal?: AbortSignal): Promise<CreatedLinks> {
    const jtis = new Map<string, string>();
    const collect = (issued: IssueResult) => {
      for (const link of issued.links) jtis.set(link.cipher, link.jti);
    };
    const sdk = new InstantConnect({
      broker: this.broker.publicUrl,
      token: 'in-process',
      concurrency: 1,
      fetch: localBrokerFetch(this.broker, org, collect),
      now: this.now,
      retry: { retries: 0 },
    });
    const result = await sdk.createLinks(input, signal ? { signal } : {});
    return { result, jtis };
  }

  async revoke(): Promise<{ attempted: boolean; ok: boolean; detail: string }> {
    return {
      attempted: false,
      ok: true,
      detail: 'Local links are refused from the moment the visit is cancelled.',
    };
  }
}

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

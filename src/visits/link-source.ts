/**
 * Where a visit's links come from (the LinkSource port): the project's own broker, in-process, with
 * each link's jti so cancelling stops it (here), or Cisco's commercial or US-government broker with
 * the server's token (adapters/cisco-link-source.ts). Both go through the SDK, so batching and
 * validation are the same everywhere.
 */
import { localBrokerFetch } from '../broker/local-transport.js';
import type { BrokerService, IssueResult } from '../broker/service.js';
import { InstantConnect, type LinkResult } from '../client/instant-connect.js';
import type { LinkRequestInput } from '../domain/schema.js';
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

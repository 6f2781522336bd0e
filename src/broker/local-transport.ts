/**
 * A `fetch` that answers joseencrypt calls from the in-process broker, so the SDK (batching,
 * validation, normalisation) serves the local broker exactly as it serves Cisco's, with no
 * HTTP server needed. Errors come back in the same envelope and status as over HTTP.
 */
import { ERROR_STATUS, InstantConnectError, ValidationError } from '../errors.js';
import type { Org } from '../store/types.js';
import type { BrokerService, IssueResult } from './service.js';

export function localBrokerFetch(
  broker: BrokerService,
  org: Org,
  /** Sees every successful issue (with each link's jti), to record visits. */
  onIssued?: (result: IssueResult) => void | Promise<void>,
): typeof fetch {
  const local = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const version = /\/api\/(v1|v2)\/joseencrypt$/.exec(url.pathname)?.[1] as 'v1' | 'v2' | undefined;
    const trackingId = `IC_local_${crypto.randomUUID()}`;
    const headers = { 'content-type': 'application/json', trackingid: trackingId };
    if (!version || (init?.method ?? 'GET') !== 'POST') {
      return new Response(JSON.stringify({ message: 'Not found', errors: [], trackingId }), {
        status: 404,
        headers,
      });
    }
    try {
      const body = JSON.parse(String(init?.body ?? 'null')) as unknown;
      const result = await broker.issue(org, body, version);
      await onIssued?.(result);
      const { response } = result;
      return new Response(JSON.stringify(response), { status: 200, headers });
    } catch (err) {
      if (!(err instanceof InstantConnectError)) throw err;
      const errors =
        err instanceof ValidationError
          ? err.issues.map((i) => ({ description: i.message, path: i.path }))
          : [{ description: err.message }];
      return new Response(JSON.stringify({ message: err.message, errors, trackingId, code: err.code }), {
        status: ERROR_STATUS[err.code],
        headers,
      });
    }
  };
  return local as typeof fetch;
}

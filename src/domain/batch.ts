/** Plans a request for any number of links as calls of at most 25, hosts first, in order. */
import { MAX_LINKS_PER_CALL } from './constants.js';

export interface BatchCall {
  numHost: number;
  numGuest: number;
}

export function planBatches(
  hosts: number,
  guests: number,
  perCall: number = MAX_LINKS_PER_CALL,
): BatchCall[] {
  if (!Number.isInteger(hosts) || !Number.isInteger(guests) || hosts < 0 || guests < 0) {
    throw new RangeError('hosts and guests must be non-negative integers');
  }
  if (!Number.isInteger(perCall) || perCall < 1) throw new RangeError('perCall must be a positive integer');
  const calls: BatchCall[] = [];
  let h = hosts;
  let g = guests;
  while (h + g > 0) {
    const numHost = Math.min(h, perCall);
    const numGuest = Math.min(g, perCall - numHost);
    calls.push({ numHost, numGuest });
    h -= numHost;
    g -= numGuest;
  }
  return calls;
}

/** Store records for tests: values that satisfy the schema; each test picks its ids. */
import { randomUUID } from 'node:crypto';

export const shortLink = (orgId: string, code: string) => ({
  code,
  orgId,
  cipher: `cipher-${code}`,
  role: 'guest' as const,
  vertical: 'hc' as const,
  hostLogin: false,
  subject: 's',
  expiresAt: 2_000_000_000,
  createdAt: 1,
});
export const visit = (orgId: string, id: string) => ({
  id,
  orgId,
  subject: `subject ${id}`,
  status: 'pending' as const,
  expiresAt: 2_000_000_000,
  vertical: 'hc' as const,
  hostLogin: false,
  shortUrls: false,
  devices: [],
  source: 'local' as const,
  createdBy: 'test',
  createdAt: 1,
  hosts: 0,
  guests: 0,
});
export const event = (orgId: string, visitId: string) => ({
  orgId,
  visitId,
  at: 1,
  actor: 't',
  type: 't',
  data: {},
});
export const link = (visitId: string, index: number) => ({
  visitId,
  role: 'guest' as const,
  index,
  cipher: `c-${visitId}-${index}-${randomUUID()}`,
  longUrl: 'https://l',
});

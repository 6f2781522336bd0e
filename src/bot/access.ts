/**
 * Who may use the bot. Anyone on Webex can find a bot and write to it, so the bot serves only
 * the people its administrator allows: by email domain (BOT_ALLOWED_DOMAINS) and/or by Webex
 * organisation (BOT_ALLOWED_ORGS). With neither set the bot is closed: it answers every command
 * with a refusal that says what to set. Only what Webex's API says about the person counts
 * (GET /people/{id}: their emails and orgId), never anything written in the message.
 */

import type { Person } from '../domain/webex.js';
import { InstantConnectError } from '../errors.js';

export interface BotAccessOptions {
  /**
   * Email domains whose people may use the bot: exact, case-insensitive match on the part after
   * the last `@` of an email Webex lists for the person. A subdomain is another domain
   * (`clinic.example` does not admit `mail.clinic.example`): list each one.
   */
  allowedDomains?: readonly string[];
  /** Webex organisation ids (the base64 id, or the uuid inside it) whose people may use the bot. */
  allowedOrgs?: readonly string[];
}

export type AccessDecision =
  | { allowed: true; by: 'domain' | 'org' }
  | { allowed: false; reason: 'closed' | 'not allowed' };

export const CLOSED_REPLY =
  'This bot is closed: it makes no visits until an administrator sets BOT_ALLOWED_DOMAINS (email domains) or BOT_ALLOWED_ORGS (Webex organisation ids) on its server.';
export const REFUSED_REPLY =
  'Sorry, this bot makes visits only for the people its administrators allow, and your account is not one of them. Ask your administrator if you think it should be.';

/**
 * A Webex org id as compared: the uuid of `ciscospark://<region>/ORGANIZATION/<uuid>` when the id
 * is the base64 of one (either alphabet), else the trimmed id itself; lowercase.
 */
export function orgKey(id: string): string {
  const trimmed = id.trim();
  const decoded = Buffer.from(trimmed, 'base64').toString('utf8');
  const m = /^ciscospark:\/\/[a-z0-9-]+\/ORGANIZATION\/([0-9a-f-]{36})$/i.exec(decoded);
  return (m ? m[1]! : trimmed).toLowerCase();
}

const domainOf = (email: string) => {
  const at = email.lastIndexOf('@');
  return at < 0
    ? ''
    : email
        .slice(at + 1)
        .trim()
        .toLowerCase();
};

export class BotAccess {
  readonly #domains: ReadonlySet<string>;
  readonly #orgs: ReadonlySet<string>;

  constructor(options: BotAccessOptions = {}) {
    this.#domains = new Set(
      (options.allowedDomains ?? []).map((d) => d.trim().toLowerCase()).filter(Boolean),
    );
    this.#orgs = new Set((options.allowedOrgs ?? []).map(orgKey).filter(Boolean));
  }

  /** Neither list is set: the bot refuses everyone. */
  get closed(): boolean {
    return this.#domains.size === 0 && this.#orgs.size === 0;
  }

  /** How `serve` describes the policy at start (counts only: the lists are not secret, but long). */
  describe(): string {
    if (this.closed) return 'closed (set BOT_ALLOWED_DOMAINS or BOT_ALLOWED_ORGS)';
    const parts: string[] = [];
    if (this.#domains.size > 0) parts.push(`email domains ${[...this.#domains].join(', ')}`);
    if (this.#orgs.size > 0) parts.push(`${this.#orgs.size} Webex organisation(s)`);
    return `for ${parts.join(' and ')}`;
  }

  /** Whether the person Webex describes may use the bot. */
  check(person: Pick<Person, 'emails' | 'orgId' | 'type'> | undefined): AccessDecision {
    if (this.closed) return { allowed: false, reason: 'closed' };
    if (!person) return { allowed: false, reason: 'not allowed' };
    if (person.orgId && this.#orgs.has(orgKey(person.orgId))) return { allowed: true, by: 'org' };
    const emails = Array.isArray(person.emails) ? person.emails : [];
    if (emails.some((e) => typeof e === 'string' && this.#domains.has(domainOf(e))))
      return { allowed: true, by: 'domain' };
    return { allowed: false, reason: 'not allowed' };
  }
}

/** BOT_ALLOWED_DOMAINS and BOT_ALLOWED_ORGS: comma-separated lists (spaces ignored). */
export function botAccessFromEnv(env: Readonly<Record<string, string | undefined>>): BotAccessOptions {
  const list = (name: string) =>
    (env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const allowedDomains = list('BOT_ALLOWED_DOMAINS').map((d) => d.replace(/^@/, ''));
  for (const d of allowedDomains) {
    if (!/^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/i.test(d))
      throw new InstantConnectError(
        'ERR_VALIDATION',
        `BOT_ALLOWED_DOMAINS: "${d.slice(0, 80)}" is not an email domain (example: clinic.example)`,
      );
  }
  const allowedOrgs = list('BOT_ALLOWED_ORGS');
  return {
    ...(allowedDomains.length > 0 ? { allowedDomains } : {}),
    ...(allowedOrgs.length > 0 ? { allowedOrgs } : {}),
  };
}

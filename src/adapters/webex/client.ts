/**
 * The few Webex REST endpoints the bot and deliveries need, over `fetch` (the `webex` SDK is 529 MB
 * and does not load on Node). 429 waits for Retry-After and 5xx backs off, through HttpClient.
 */
import { HttpClient, type HttpClientOptions } from '../../client/http.js';
import type {
  AttachmentAction,
  MeetingParticipant,
  MeetingsApi,
  Message,
  MessageTarget,
  Person,
  Room,
  RoomMeetingInfo,
  WebexApi,
  Webhook,
} from '../../domain/webex.js';

/** The Webex REST adapter: implements the services' WebexApi port, and the CLI's webhook calls. */
export class WebexClient implements WebexApi, MeetingsApi {
  readonly #http: HttpClient;
  readonly apiUrl: string;

  constructor(token: string, apiUrl: string, options: HttpClientOptions = {}) {
    this.#http = new HttpClient(token, { userAgent: 'instant-connect-bot', timeoutMs: 15_000, ...options });
    this.apiUrl = apiUrl.replace(/\/+$/, '');
  }

  toString(): string {
    return `WebexClient(${this.apiUrl})`;
  }

  toJSON(): Record<string, unknown> {
    return { apiUrl: this.apiUrl };
  }

  async me(signal?: AbortSignal): Promise<Person> {
    return (await this.#http.request<Person>('GET', `${this.apiUrl}/people/me`, { signal })).body;
  }

  /** A person as Webex knows them (GET /people/{id}): their emails and organisation. */
  async getPerson(id: string): Promise<Person> {
    return (await this.#http.request<Person>('GET', `${this.apiUrl}/people/${encodeURIComponent(id)}`)).body;
  }

  async getMessage(id: string): Promise<Message> {
    return (await this.#http.request<Message>('GET', `${this.apiUrl}/messages/${encodeURIComponent(id)}`))
      .body;
  }

  async getAttachmentAction(id: string): Promise<AttachmentAction> {
    return (
      await this.#http.request<AttachmentAction>(
        'GET',
        `${this.apiUrl}/attachment/actions/${encodeURIComponent(id)}`,
      )
    ).body;
  }

  /** Posts markdown (at most 7439 bytes, Webex's limit), optionally with one Adaptive Card. */
  async sendMessage(
    target: MessageTarget,
    markdown: string,
    card?: Record<string, unknown>,
  ): Promise<Message> {
    const body: Record<string, unknown> = { ...target, markdown: truncateBytes(markdown, 7439) };
    if (card)
      body['attachments'] = [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }];
    return (await this.#http.request<Message>('POST', `${this.apiUrl}/messages`, { body })).body;
  }

  /** Every webhook of the token's owner, following `Link: <…>; rel="next"`. */
  listWebhooks(): Promise<Webhook[]> {
    return this.#pages<Webhook>(`${this.apiUrl}/webhooks?max=100`, 50);
  }

  /** Items of a listing, following `Link: <…>; rel="next"` for at most `pages` pages. */
  async #pages<T>(first: string, pages: number): Promise<T[]> {
    const all: T[] = [];
    let url: string | undefined = first;
    for (let page = 0; url && page < pages; page++) {
      const response: Awaited<ReturnType<HttpClient['request']>> = await this.#http.request<{
        items: T[];
      }>('GET', url);
      all.push(...((response.body as { items?: T[] }).items ?? []));
      url = nextLink(response.headers.get('link'));
    }
    return all;
  }

  /** Group spaces, most recently active first: at most `max` (one page of up to 1000). */
  async listSpaces(max: number): Promise<Room[]> {
    const items = await this.#pages<Room>(
      `${this.apiUrl}/rooms?type=group&sortBy=lastactivity&max=${Math.min(1000, max)}`,
      Math.ceil(max / 1000),
    );
    return items.slice(0, max);
  }

  async spaceMeetingInfo(roomId: string): Promise<RoomMeetingInfo> {
    return (
      await this.#http.request<RoomMeetingInfo>(
        'GET',
        `${this.apiUrl}/rooms/${encodeURIComponent(roomId)}/meetingInfo`,
      )
    ).body;
  }

  listMeetingParticipants(meetingId: string): Promise<MeetingParticipant[]> {
    return this.#pages<MeetingParticipant>(
      `${this.apiUrl}/meetingParticipants?meetingId=${encodeURIComponent(meetingId)}&max=100`,
      10,
    );
  }

  /** `ownedBy: 'org'` makes an organisation-wide webhook (an administrator's token; meetings only). */
  async createWebhook(webhook: Omit<Webhook, 'id' | 'status'> & { ownedBy?: 'org' }): Promise<Webhook> {
    return (await this.#http.request<Webhook>('POST', `${this.apiUrl}/webhooks`, { body: webhook })).body;
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.#http.request('DELETE', `${this.apiUrl}/webhooks/${encodeURIComponent(id)}`);
  }
}

function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}

function truncateBytes(text: string, max: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  return `${bytes
    .subarray(0, max - 3)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/**
 * What the services need of Webex, as data shapes and one port. The bot and the trigger depend on
 * `WebexApi`; adapters/webex/client.ts implements it over REST; the container joins them.
 */
export interface Person {
  id: string;
  emails?: string[];
  displayName?: string;
  orgId?: string;
  type?: 'person' | 'bot' | 'appuser';
}

export interface Message {
  id: string;
  roomId: string;
  roomType?: 'direct' | 'group';
  text?: string;
  markdown?: string;
  html?: string;
  personId: string;
  personEmail?: string;
  mentionedPeople?: string[];
  created?: string;
}

export interface Webhook {
  id: string;
  name: string;
  targetUrl: string;
  resource: string;
  event: string;
  filter?: string;
  secret?: string;
  status?: string;
}

export interface AttachmentAction {
  id: string;
  type: string;
  messageId?: string;
  roomId: string;
  personId: string;
  inputs: Record<string, unknown>;
}

export type MessageTarget = { roomId: string } | { toPersonEmail: string } | { toPersonId: string };

/** The Webex calls the bot and the trigger make (the port; WebexClient is its adapter). */
export interface WebexApi {
  me(signal?: AbortSignal): Promise<Person>;
  getPerson(id: string): Promise<Person>;
  getMessage(id: string): Promise<Message>;
  getAttachmentAction(id: string): Promise<AttachmentAction>;
  sendMessage(target: MessageTarget, markdown: string, card?: Record<string, unknown>): Promise<Message>;
}

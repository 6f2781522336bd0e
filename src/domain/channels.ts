/** One message to one address, as a channel sends it. */
export interface OutboundMessage {
  to: string;
  subject?: string;
  text: string;
  html?: string;
  ics?: string;
}
/** What the provider said: its id for the message, and whether it is sent or only accepted. */
export interface ChannelResult {
  providerId?: string;
  status: 'sent' | 'queued';
}
/** A way to reach a person (email, sms); throws ChannelError (errors.ts) with `permanent` when retrying cannot help. */
export interface Channel {
  readonly name: 'email' | 'sms';
  send(message: OutboundMessage, signal?: AbortSignal): Promise<ChannelResult>;
}

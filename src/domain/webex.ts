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
  /** `org` for an organisation-wide webhook (meetings and participants, with an administrator's token). */
  ownedBy?: string;
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

/** A Webex space (GET /rooms). Instant Connect titles a visit's space `Virtual Visit - <sub>`. */
export interface Room {
  id: string;
  title: string;
  type?: 'direct' | 'group';
  created?: string;
  lastActivity?: string;
}

/** GET /rooms/{id}/meetingInfo: the space's meeting. */
export interface RoomMeetingInfo {
  roomId: string;
  meetingId: string;
  meetingNumber?: string;
  meetingLink?: string;
  sipAddress?: string;
}

/**
 * A meeting participant (GET /meetingParticipants, and the `data` of a `meetingParticipants`
 * delivery): the fields telemetry reads.
 */
export interface MeetingParticipant {
  id: string;
  /** The meeting instance (`<meetingId>_I_<n>`) the participant is in. */
  meetingId: string;
  host?: boolean;
  coHost?: boolean;
  spaceModerator?: boolean;
  email?: string;
  displayName?: string;
  /** `lobby`, `joined` or `end`. */
  state?: string;
  joinedTime?: string;
  leftTime?: string;
}

/** What meeting telemetry needs of Webex (a token that may read the visit's spaces and meetings). */
export interface MeetingsApi {
  /** Group spaces the token's owner is in, most recently active first (bounded). */
  listSpaces(max: number): Promise<Room[]>;
  spaceMeetingInfo(roomId: string): Promise<RoomMeetingInfo>;
  /** Participants of a meeting (a series id or an instance id), as Webex lists them now. */
  listMeetingParticipants(meetingId: string): Promise<MeetingParticipant[]>;
}

/** The title Instant Connect gives a visit's space: `Virtual Visit - <sub>` (GVE's README, caseflow). */
const SPACE_TITLE_PREFIX = 'Virtual Visit - ';

/**
 * The subject of a visit's space from its title: the prefix removed, and the `-1`, `-2`… that
 * Webex appends when titles repeat (seen by caseflow) kept as a second candidate.
 */
export function subjectsOfSpaceTitle(title: string): string[] {
  if (!title.startsWith(SPACE_TITLE_PREFIX)) return [];
  const subject = title.slice(SPACE_TITLE_PREFIX.length);
  const suffix = /^(.*)-\d{1,3}$/.exec(subject);
  return suffix?.[1] ? [subject, suffix[1]] : [subject];
}

/**
 * A meeting's series id from an instance id (`<series>_I_<n>`), or the id itself: deliveries name
 * instances, `meetingInfo` names the series.
 */
export function meetingSeriesId(meetingId: string): string {
  const at = meetingId.indexOf('_I_');
  return at > 0 ? meetingId.slice(0, at) : meetingId;
}

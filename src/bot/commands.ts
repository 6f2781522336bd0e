/**
 * The bot's small command language, parsed without I/O:
 *   help
 *   visit                                  1 host, 1 guest, starts now
 *   visit <subject>
 *   visit with 3 guests   (and/or "with 2 hosts")
 *   visit at 14:30 for 45m                 (also "at 2026-12-01 09:30", "in 2h", "for 1h30m")
 *   cancel <visit id or subject>
 *   visits                                 your upcoming visits
 *   timezone <IANA zone>                   the zone your times are read in
 */
export type Command =
  | { kind: 'help' }
  | { kind: 'visit'; subject?: string; hosts: number; guests: number; start?: string; duration?: string }
  | { kind: 'cancel'; target: string }
  | { kind: 'visits' }
  | { kind: 'timezone'; zone?: string }
  | { kind: 'unknown'; text: string };

const MAX_BOT_LINKS = 50;

export function parseCommand(input: string): Command {
  const text = input.replace(/\s+/g, ' ').trim();
  const [word = '', ...restWords] = text.split(' ');
  const rest = restWords.join(' ').trim();
  switch (word.toLowerCase()) {
    case '':
    case 'help':
    case '?':
    case '/help':
      return { kind: 'help' };
    case 'visits':
    case 'list':
      return { kind: 'visits' };
    case 'cancel':
      return rest ? { kind: 'cancel', target: rest.replace(/^["']|["']$/g, '') } : { kind: 'unknown', text };
    case 'timezone':
    case 'tz':
      return rest ? { kind: 'timezone', zone: rest } : { kind: 'timezone' };
    case 'visit':
    case 'new':
      return parseVisit(rest);
    default:
      return { kind: 'unknown', text };
  }
}

function parseVisit(rest: string): Command {
  let remaining = ` ${rest} `;
  const take = (pattern: RegExp): RegExpExecArray | undefined => {
    const m = pattern.exec(remaining);
    if (m) remaining = `${remaining.slice(0, m.index)} ${remaining.slice(m.index + m[0].length)}`;
    return m ?? undefined;
  };
  const count = (m: RegExpExecArray | undefined, fallback: number) =>
    m ? Math.min(Number(m[1]), MAX_BOT_LINKS) : fallback;
  // "with 2 hosts and 3 guests", "with 3 guests", "and 2 hosts"
  const guests = count(take(/\s(?:with|and)\s+(\d{1,3})\s+guests?\b/i), 1);
  const hosts = count(take(/\s(?:with|and)\s+(\d{1,3})\s+hosts?\b/i), 1);
  const at = take(/\sat\s+((?:\d{4}-\d{2}-\d{2}[ T])?\d{1,2}:\d{2})\b/i);
  const inRelative = take(
    /\sin\s+(\d+\s*(?:w|d|h|m|min|mins|minutes?|hours?)\b(?:\s*\d+\s*(?:m|min|minutes?))?)/i,
  );
  const forDuration = take(
    /\sfor\s+(\d+\s*(?:h|m|min|mins|minutes?|hours?)\b(?:\s*\d+\s*(?:m|min|minutes?))?)/i,
  );
  const normalise = (d: string) =>
    d
      .replace(/\s+/g, '')
      .replace(/hours?/gi, 'h')
      .replace(/(minutes?|mins?)/gi, 'm');
  const subject = remaining.trim().replace(/^["']|["']$/g, '');
  const command: Command = { kind: 'visit', hosts, guests };
  if (subject) command.subject = subject;
  if (at) command.start = at[1]!;
  else if (inRelative) command.start = `+${normalise(inRelative[1]!)}`;
  if (forDuration) command.duration = normalise(forDuration[1]!);
  return command;
}

export const HELP = `**Instant Connect visits**, made by this bot:

- \`visit\`: one host link (sent to you privately) and one guest link, starting now for 30 minutes
- \`visit Dr Smith follow-up\`: the same, with a subject
- \`visit with 3 guests\`, \`visit with 2 hosts and 3 guests\`
- \`visit at 14:30 for 45m\`, \`visit at 2026-12-01 09:30 for 1h\`, \`visit in 2h\`
- \`visits\`: your upcoming visits
- \`cancel <visit id or subject>\`: cancel one of your visits
- \`timezone Europe/London\`: the zone your times are read in (\`timezone\` shows it)

In a group space, mention me. Guest links are posted here; your host link only ever goes to you, 1:1.`;

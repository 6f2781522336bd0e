/** English notices. A language is one file like this one, listed in messages/index.ts. */
import type { Catalog } from './types.js';

export const en: Catalog = {
  locale: 'en-GB',
  subject: {
    created: (subject) => `Your video visit: ${subject}`,
    cancelled: (subject) => `Cancelled: ${subject}`,
    reminder: (subject) => `Reminder: ${subject}`,
  },
  greeting: (name) => (name ? `Hello ${name},` : 'Hello,'),
  created: {
    guest: 'You are invited to a video visit.',
    host: 'You are the host of a video visit.',
  },
  cancelled: 'This video visit was cancelled. Its link no longer works.',
  reminder: (start) => `Your video visit starts at ${start}.`,
  when: (start, end, zone) => `When: ${start} to ${end} (${zone})`,
  join: 'Join with this link:',
  window: 'The link opens at the start time and works until the end. Nothing to install.',
  hostOnly: 'This is a host link: do not share it.',
  signature: 'Sent by Instant Connect.',
};

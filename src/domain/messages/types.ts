/** The words of the notices in one language (messages/<language>.ts). */
export interface Catalog {
  /** The BCP 47 locale dates are written in. */
  locale: string;
  subject: {
    created: (subject: string) => string;
    cancelled: (subject: string) => string;
    reminder: (subject: string) => string;
  };
  greeting: (name: string | undefined) => string;
  created: { guest: string; host: string };
  cancelled: string;
  /** A reminder's first line: the visit starts at <start, in the recipient's zone>. */
  reminder: (start: string) => string;
  when: (start: string, end: string, zone: string) => string;
  join: string;
  window: string;
  hostOnly: string;
  signature: string;
}

/** Avisos en español. */
import type { Catalog } from './types.js';

export const es: Catalog = {
  locale: 'es-ES',
  subject: {
    created: (subject) => `Su videoconsulta: ${subject}`,
    cancelled: (subject) => `Cancelada: ${subject}`,
    reminder: (subject) => `Recordatorio: ${subject}`,
  },
  greeting: (name) => (name ? `Hola, ${name}:` : 'Hola:'),
  created: {
    guest: 'Le invitamos a una videoconsulta.',
    host: 'Usted es el anfitrión de una videoconsulta.',
  },
  cancelled: 'Esta videoconsulta se ha cancelado. Su enlace ya no funciona.',
  reminder: (start) => `Su videoconsulta empieza el ${start}.`,
  when: (start, end, zone) => `Cuándo: del ${start} al ${end} (${zone})`,
  join: 'Entre con este enlace:',
  window: 'El enlace se abre a la hora de inicio y funciona hasta el final. No hay que instalar nada.',
  hostOnly: 'Este es un enlace de anfitrión: no lo comparta.',
  signature: 'Enviado por Instant Connect.',
};

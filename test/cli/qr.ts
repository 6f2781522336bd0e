/** Reads a QR code printed with block characters back into modules, to compare with the expected one. */
import QRCode from 'qrcode';

/** The dark modules of the QR code of `text`, row by row ("1" dark, "0" light). */
export function expectedModules(text: string): string[] {
  const { modules } = QRCode.create(text, {});
  const rows: string[] = [];
  for (let y = 0; y < modules.size; y++) {
    let row = '';
    for (let x = 0; x < modules.size; x++) row += modules.get(y, x) ? '1' : '0';
    rows.push(row);
  }
  return rows;
}

const HALVES: Record<string, [string, string]> = {
  ' ': ['0', '0'],
  '▀': ['1', '0'],
  '▄': ['0', '1'],
  '█': ['1', '1'],
};

/**
 * Modules of a QR code drawn with half blocks (two rows per line, dark as ink) inside a blank
 * quiet zone; undefined when the text holds anything else (such as colour escapes).
 */
export function readBlockQr(text: string): string[] | undefined {
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  if (lines.length === 0) return undefined;
  const rows: string[] = [];
  for (const line of lines) {
    let top = '';
    let bottom = '';
    for (const ch of line) {
      const half = HALVES[ch];
      if (!half) return undefined;
      top += half[0];
      bottom += half[1];
    }
    rows.push(top, bottom);
  }
  // Drop the quiet zone: the columns left of the first dark module and right of the last one.
  const left = Math.min(...rows.map((r) => r.indexOf('1')).filter((i) => i >= 0));
  const right = Math.max(...rows.map((r) => r.lastIndexOf('1')));
  const size = right - left + 1;
  const trimmed = rows.map((r) => r.padEnd(right + 1, '0').slice(left, right + 1));
  const first = trimmed.findIndex((r) => r.includes('1'));
  return trimmed.slice(first, first + size);
}

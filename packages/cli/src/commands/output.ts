/**
 * Terminal output: counts with their nouns, aligned tables, a progress bar that only draws on a terminal, and QR codes
 * drawn in text.
 */

import encodeQR from 'qr';

/** `1 contact`, `2 contacts`: a count and its noun, as people write it. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function progressBar(stream: NodeJS.WriteStream) {
  const enabled = stream.isTTY === true;
  let drawn = false;
  return {
    update(label: string, done: number, total: number) {
      if (!enabled || total < 50) return;
      const width = 30;
      const filled = Math.round((done / Math.max(1, total)) * width);
      stream.write(
        `\r${label.padEnd(9)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
      );
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
    },
  };
}

/**
 * A QR code drawn with half-block characters (two modules a character row), light modules as
 * blocks: it reads on a dark terminal; scanners that try inverted codes read it on a light one.
 */
export function textQr(text: string): string {
  return encodeQR(text, 'ascii', { ecc: 'medium' });
}

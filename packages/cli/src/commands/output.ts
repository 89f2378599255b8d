/** Terminal output: aligned tables and a progress bar that only draws on a terminal. */

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

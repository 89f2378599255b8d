/**
 * What an import says to the person who ran it, shared by the CLI and the web app: one summary
 * line, then each skipped entry once, with the value that failed and why. Counts are entries, not
 * problems: an entry with two bad numbers is one entry.
 */

import type { ImportResult, SkippedEntry } from './vcard.js';

/** An import merged into the address book: how many of its contacts were new. */
export interface ImportReport extends ImportResult {
  /** Contacts not in the book before. */
  added: number;
  /** Contacts of the file that the book already had before (a re-import), each counted once. */
  alreadyInBook: number;
}

const count = (n: number): string => n.toLocaleString('en-US');
const plural = (n: number, one: string, many: string): string =>
  `${count(n)} ${n === 1 ? one : many}`;

/** One sentence: what was imported, what was already there, what was skipped. */
export function importSummary(report: ImportReport): string {
  const { added, alreadyInBook, entries, format, duplicates, repeated, skipped } = report;
  const read = `${plural(entries, 'entry', 'entries')} (${format})`;
  const parts: string[] = [];
  if (added === 0 && alreadyInBook > 0) {
    parts.push(`No new contacts; ${count(alreadyInBook)} already in your book`);
  } else {
    const already = alreadyInBook > 0 ? `, ${count(alreadyInBook)} already in your book` : '';
    parts.push(`Imported ${plural(added, 'contact', 'contacts')} from ${read}${already}`);
  }
  if (repeated > 0) {
    const which = repeated === 1 ? 'repeats an earlier one' : 'repeat earlier ones';
    parts.push(`${plural(repeated, 'entry', 'entries')} ${which} in the file (kept once)`);
  }
  if (duplicates > 0)
    parts.push(`${plural(duplicates, 'duplicate number', 'duplicate numbers')} merged`);
  const dropped = skipped.filter((entry) => entry.dropped).length;
  const partial = skipped.length - dropped;
  if (dropped > 0) parts.push(`${plural(dropped, 'entry', 'entries')} skipped`);
  if (partial > 0) {
    parts.push(`${plural(partial, 'entry', 'entries')} imported with problems`);
  }
  return `${parts.join('; ')}.`;
}

/** `entry 6 (Olu Adebayo): "12": This phone number is too short …` — one line per entry. */
export function describeSkippedEntry(skipped: SkippedEntry): string {
  const who = `entry ${skipped.entry}${skipped.name ? ` (${skipped.name})` : ''}`;
  const problems = skipped.problems.map(({ value, message }) =>
    value === undefined ? message : `"${value}": ${message}`,
  );
  return `${who}${skipped.dropped ? ' skipped' : ''}: ${problems.join(' ')}`;
}

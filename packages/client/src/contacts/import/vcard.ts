/**
 * vCard (2.1, 3.0, 4.0) address-book import. Only what contact discovery needs is read: a display
 * name and the phone numbers, normalised to E.164. Damaged files are common (truncated exports,
 * concatenated books), so structural problems become issues on the result rather than exceptions.
 *
 * The result model shared with the CSV importer lives here too, so that vcard.ts, csv.ts and
 * contacts-file.ts import each other without a cycle. Runs in browsers: no node: imports.
 */

import { type NormalizeResult, normalizePhoneNumber, ParleyError } from '@parley/core';
import { bytesOf, decoderFor, isUtf8 } from './encoding.js';

export interface ImportedContact {
  name: string;
  /** E.164, deduplicated within the contact. */
  phoneNumbers: string[];
}

export interface ImportIssue {
  /** 1-based index of the contact in the file. */
  entry: number;
  line?: number;
  name?: string;
  /** The raw offending value; it stays on the device. */
  value?: string;
  /** A PhoneIssue, or 'malformed_entry' for structural problems. */
  reason: string;
  message: string;
}

/** One entry of the file with problems, once, with each problem (issues grouped by entry). */
export interface SkippedEntry {
  entry: number;
  name?: string;
  /** True when nothing of the entry was imported; false when some of its numbers were. */
  dropped: boolean;
  problems: { value?: string; reason: string; message: string }[];
}

export interface ImportResult {
  format: 'vcard' | 'csv';
  /** Entries with at least one usable phone number, in file order. */
  contacts: ImportedContact[];
  issues: ImportIssue[];
  /** Number of entries (contacts) in the file, whether or not they were usable. */
  entries: number;
  /** Distinct numbers that appear on more than one contact. */
  duplicates: number;
  /**
   * Entries that repeat an earlier entry of the same file (the same name and the same numbers,
   * as exports of merged or synced books often have): imported once, not counted as contacts.
   */
  repeated: number;
  /** The entries behind `issues`, each once, in file order. */
  skipped: SkippedEntry[];
}

export interface ImportOptions {
  /** ISO 3166 alpha-2 region for numbers written without a country code. */
  defaultRegion?: string;
}

/** @internal */
export interface RawPhoneNumber {
  value: string;
  line?: number;
}

/**
 * Accumulates an {@link ImportResult}; shared by the vCard and CSV importers so both count entries,
 * duplicates and issues the same way.
 * @internal
 */
export class ContactBookBuilder {
  entries = 0;
  private readonly contacts: ImportedContact[] = [];
  private readonly issues: ImportIssue[] = [];
  private readonly imported = new Set<number>();
  /** How many contacts each number is on; a count reaching 2 makes one duplicate. */
  private readonly seen = new Map<string, number>();
  /** Exports repeat the same spellings a lot, and parsing dominates the import time. */
  private readonly normalised = new Map<string, NormalizeResult>();
  private duplicates = 0;
  /** Name and numbers of every contact taken, to recognise an entry the file repeats. */
  private readonly taken = new Set<string>();
  private repeated = 0;

  constructor(
    private readonly format: ImportResult['format'],
    private readonly defaultRegion: string | undefined,
  ) {}

  addContact(entry: number, name: string, numbers: readonly RawPhoneNumber[]): void {
    const phoneNumbers: string[] = [];
    for (const { value, line } of numbers) {
      // Empty phone fields are normal in exports (every CSV row has all columns); not a problem.
      if (value.trim() === '') continue;
      const result = this.normalise(value);
      if (!result.ok) {
        this.addIssue({
          entry,
          line,
          name,
          value,
          reason: result.reason,
          message: result.message,
        });
        continue;
      }
      if (!phoneNumbers.includes(result.e164)) phoneNumbers.push(result.e164);
    }
    if (phoneNumbers.length > 0) {
      this.imported.add(entry);
      const key = contactKey({ name, phoneNumbers });
      if (this.taken.has(key)) this.repeated += 1;
      else {
        this.taken.add(key);
        this.contacts.push({ name, phoneNumbers });
        // A number on two different contacts (a shared landline) is a duplicate; the same
        // contact listed twice is not.
        for (const e164 of phoneNumbers) {
          const count = (this.seen.get(e164) ?? 0) + 1;
          this.seen.set(e164, count);
          if (count === 2) this.duplicates += 1;
        }
      }
    }
    if (name.includes('\uFFFD')) {
      this.addIssue({
        entry,
        name,
        reason: 'undecodable_text',
        message:
          'The name contains characters that could not be decoded (shown as "\uFFFD"); export the file again as UTF-8.',
      });
    }
  }

  addIssue(issue: ImportIssue): void {
    const { entry, line, name, value, reason, message } = issue;
    // Absent rather than undefined, so results compare and serialise cleanly.
    this.issues.push({
      entry,
      ...(line === undefined ? {} : { line }),
      ...(name ? { name } : {}),
      ...(value === undefined ? {} : { value }),
      reason,
      message,
    });
  }

  result(): ImportResult {
    return {
      format: this.format,
      contacts: this.contacts,
      issues: this.issues,
      entries: this.entries,
      duplicates: this.duplicates,
      repeated: this.repeated,
      skipped: this.skippedEntries(),
    };
  }

  private skippedEntries(): SkippedEntry[] {
    const byEntry = new Map<number, SkippedEntry>();
    for (const { entry, name, value, reason, message } of this.issues) {
      let skipped = byEntry.get(entry);
      if (skipped === undefined) {
        skipped = {
          entry,
          ...(name ? { name } : {}),
          dropped: !this.imported.has(entry),
          problems: [],
        };
        byEntry.set(entry, skipped);
      }
      skipped.problems.push({ ...(value === undefined ? {} : { value }), reason, message });
    }
    return [...byEntry.values()].sort((a, b) => a.entry - b.entry);
  }

  private normalise(value: string): NormalizeResult {
    let result = this.normalised.get(value);
    if (result === undefined) {
      result = normalizePhoneNumber(value, this.defaultRegion);
      this.normalised.set(value, result);
    }
    return result;
  }
}

/**
 * What makes two contacts the same one: the name and the set of numbers (the address book merges
 * on this key too, so a re-import adds nothing).
 */
export function contactKey(contact: ImportedContact): string {
  const numbers = contact.phoneNumbers;
  // Most contacts have one number: no copy, no sort.
  return `${contact.name}\u0000${numbers.length === 1 ? numbers[0] : [...numbers].sort().join(',')}`;
}

/** True when some line of `text` is a BEGIN:VCARD line; cheap enough for format sniffing. @internal */
export function containsVCard(text: string): boolean {
  return /^[ \t]*BEGIN[ \t]*:[ \t]*VCARD[ \t]*$/im.test(text);
}

// ---------------------------------------------------------------------------------------------

interface LogicalLine {
  text: string;
  /** 1-based physical line where the logical (unfolded) line starts. */
  line: number;
}

interface Property {
  group: string | undefined;
  name: string;
  types: string[];
  encoding: string | undefined;
  charset: string | undefined;
  rawValue: string;
}

interface Card {
  entry: number;
  line: number;
  fn: string | undefined;
  n: string | undefined;
  org: string | undefined;
  tels: { value: string; line: number; group: string | undefined; types: string[] }[];
  /** Apple and Google attach custom labels to a property through a shared group (item1.X-ABLabel). */
  labels: Map<string, string>;
  lastWasEmptyAgent: boolean;
}

/** Properties read at all; everything else (PHOTO above all) is skipped before its value is looked at. */
const WANTED = new Set(['BEGIN', 'END', 'FN', 'N', 'ORG', 'TEL', 'X-ABLABEL', 'AGENT']);

/**
 * Lines that are not the contact's own phone a messenger can reach: fax, pager, and an assistant's
 * number (Apple: item1.TEL + item1.X-ABLabel:_$!<Assistant>!$_; others: TYPE=x-assistant).
 */
const UNREACHABLE = /fax|pager|assistant|assistent/i;

/**
 * How to read a vCard given as a {@link byteString}: each value in its CHARSET, else as UTF-8
 * when it is valid UTF-8, else in the encoding detected for the whole file.
 * @internal
 */
export interface ByteMode {
  /** The text is a byteString: one code unit per byte of the file. */
  byteString: boolean;
  fallback: string | undefined;
}

/**
 * The bytes of every quoted-printable value without a CHARSET, together: enough text for the
 * detector to tell which code page a vCard 2.1 exporter used when it did not say.
 * @internal
 */
export function unlabelledQuotedPrintable(text: string): Uint8Array {
  const values: Uint8Array[] = [];
  let length = 0;
  for (const match of text.matchAll(/^[^:\r\n]*QUOTED-PRINTABLE[^:\r\n]*:(.*(?:=\r?\n.*)*)/gim)) {
    if (/CHARSET/i.test(match[0].slice(0, match[0].indexOf(':')))) continue;
    const value = decodeQuotedPrintable(
      new TextEncoder().encode((match[1] ?? '').replace(/=\r?\n/g, '')),
    );
    values.push(value);
    length += value.length + 1;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const value of values) {
    all.set(value, offset);
    offset += value.length + 1;
    all[offset - 1] = 0x20;
  }
  return all;
}

export function parseVCard(
  text: string,
  options: ImportOptions = {},
  bytes?: ByteMode,
): ImportResult {
  if (typeof text !== 'string' || !containsVCard(text)) {
    throw new ParleyError('IMPORT_FAILED', {
      message:
        'The file contains no vCard (no BEGIN:VCARD line); export the contacts as vCard (.vcf) or CSV and try again.',
      details: { format: 'vcard', reason: 'no_vcard' },
    });
  }
  const book = new ContactBookBuilder('vcard', options.defaultRegion);
  let card: Card | undefined;
  /** Depth of vCards embedded in the current one (vCard 2.1 AGENT); their lines are skipped. */
  let nested = 0;
  let outsideRun = false;

  const cardName = (current: Card): string => current.fn || current.n || current.org || '';
  const finish = (current: Card): void => {
    const name = cardName(current);
    const numbers: RawPhoneNumber[] = [];
    for (const tel of current.tels) {
      if (tel.types.some((type) => UNREACHABLE.test(type))) continue;
      const label = tel.group === undefined ? undefined : current.labels.get(tel.group);
      if (label !== undefined && UNREACHABLE.test(label)) continue;
      numbers.push({ value: tel.value, line: tel.line });
    }
    book.addContact(current.entry, name, numbers);
  };

  for (const logical of logicalLines(text)) {
    if (logical.text.trim() === '') continue;
    const property = parseProperty(logical.text);
    const keyword = property?.name;
    const isCardBoundary =
      (keyword === 'BEGIN' || keyword === 'END') &&
      property !== undefined &&
      property.rawValue.trim().toUpperCase() === 'VCARD';

    if (card === undefined) {
      if (isCardBoundary && keyword === 'BEGIN') {
        book.entries += 1;
        card = newCard(book.entries, logical.line);
        outsideRun = false;
      } else if (isCardBoundary) {
        book.addIssue({
          entry: Math.max(1, book.entries),
          line: logical.line,
          reason: 'malformed_entry',
          message: `Line ${logical.line} has an END:VCARD without a matching BEGIN:VCARD; it was ignored.`,
        });
      } else if (!outsideRun) {
        outsideRun = true;
        book.addIssue({
          entry: Math.max(1, book.entries),
          line: logical.line,
          reason: 'malformed_entry',
          message: `Line ${logical.line} is outside any BEGIN:VCARD … END:VCARD block; it and the lines after it up to the next BEGIN:VCARD were skipped.`,
        });
      }
      continue;
    }

    if (isCardBoundary && keyword === 'BEGIN') {
      if (card.lastWasEmptyAgent || nested > 0) {
        nested += 1;
        continue;
      }
      book.addIssue({
        entry: card.entry,
        line: card.line,
        name: cardName(card),
        reason: 'malformed_entry',
        message: `No END:VCARD before the next BEGIN:VCARD on line ${logical.line}; the lines read up to there were imported.`,
      });
      finish(card);
      book.entries += 1;
      card = newCard(book.entries, logical.line);
      continue;
    }
    if (isCardBoundary) {
      if (nested > 0) {
        nested -= 1;
      } else {
        finish(card);
        card = undefined;
      }
      continue;
    }
    if (nested > 0 || property === undefined) continue;
    card.lastWasEmptyAgent = property.name === 'AGENT' && property.rawValue.trim() === '';
    readProperty(card, property, logical.line, bytes);
  }

  if (card !== undefined) {
    book.addIssue({
      entry: card.entry,
      line: card.line,
      name: cardName(card),
      reason: 'malformed_entry',
      message: 'No END:VCARD (the file may be cut short); the lines read were imported.',
    });
    finish(card);
  }
  return book.result();
}

function newCard(entry: number, line: number): Card {
  return {
    entry,
    line,
    fn: undefined,
    n: undefined,
    org: undefined,
    tels: [],
    labels: new Map(),
    lastWasEmptyAgent: false,
  };
}

function readProperty(
  card: Card,
  property: Property,
  line: number,
  bytes: ByteMode | undefined,
): void {
  const decodeValue = (p: Property): string => decodeProperty(p, bytes);
  switch (property.name) {
    case 'FN':
      card.fn ||= collapse(unescapeText(decodeValue(property)));
      break;
    case 'N':
      card.n ||= nameFromN(decodeValue(property));
      break;
    case 'ORG':
      card.org ||= collapse(splitStructured(decodeValue(property)).join(' '));
      break;
    case 'TEL':
      card.tels.push({
        value: unescapeText(decodeValue(property)).trim(),
        line,
        group: property.group,
        types: property.types,
      });
      break;
    case 'X-ABLABEL':
      if (property.group !== undefined) {
        card.labels.set(property.group, unescapeText(decodeValue(property)));
      }
      break;
  }
}

/** N is family;given;additional;prefix;suffix; shown in the usual western order. */
function nameFromN(value: string): string {
  const [family = '', given = '', additional = '', prefix = '', suffix = ''] =
    splitStructured(value);
  return collapse([prefix, given, additional, family, suffix].join(' '));
}

function collapse(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/**
 * Unfolds physical lines into logical ones: a line starting with a space or tab continues the
 * previous one (RFC 6350 §3.2), and in vCard 2.1 a quoted-printable value ending in "=" continues on
 * the next line whatever that line starts with.
 */
function* logicalLines(text: string): Generator<LogicalLine> {
  const physical = text.split(/\r\n|\r|\n/);
  let parts: string[] = [];
  let start = 0;
  let quotedPrintable = false;
  for (let index = 0; index < physical.length; index++) {
    let raw = physical[index] ?? '';
    if (index === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    if (parts.length > 0) {
      const last = parts.length - 1;
      const previous = parts[last] ?? '';
      // A card boundary is never part of a value; this guards against an exporter's stray "=".
      if (quotedPrintable && previous.endsWith('=') && !/^(BEGIN|END):VCARD\s*$/i.test(raw)) {
        parts[last] = previous.slice(0, -1);
        parts.push(raw);
        continue;
      }
      if (raw.startsWith(' ') || raw.startsWith('\t')) {
        parts.push(raw.slice(1));
        continue;
      }
      yield { text: parts.length === 1 ? previous : parts.join(''), line: start };
    }
    parts = [raw];
    start = index + 1;
    // Only the part before the value is searched; a PHOTO value can be hundreds of kilobytes.
    quotedPrintable = /^[^:]*QUOTED-PRINTABLE/i.test(raw);
  }
  if (parts.length > 0) yield { text: parts.join(''), line: start };
}

/** Splits `[group.]NAME *(;param) : value`; undefined for a line that is not a property at all. */
function parseProperty(text: string): Property | undefined {
  const head = /^[ \t]*([A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)[ \t]*(?=[;:])/.exec(text);
  if (head === null) return undefined;
  const name = (head[2] ?? '').toUpperCase();
  const group = head[1] === undefined ? undefined : head[1].slice(0, -1).toLowerCase();
  if (!WANTED.has(name)) {
    return { group, name, types: [], encoding: undefined, charset: undefined, rawValue: '' };
  }

  const types: string[] = [];
  let encoding: string | undefined;
  let charset: string | undefined;
  let index = head[0].length;
  let colon = -1;
  // Parameter values may be quoted (TYPE="cell,voice"), and quotes may hide ";" and ":".
  while (index < text.length && colon === -1) {
    let inQuotes = false;
    const begin = index;
    for (; index < text.length; index++) {
      const char = text[index];
      if (char === '"') inQuotes = !inQuotes;
      else if (!inQuotes && (char === ';' || char === ':')) break;
    }
    const parameter = text.slice(begin, index).trim();
    if (text[index] === ':') colon = index;
    index += 1;
    if (parameter === '') continue;
    const equals = parameter.indexOf('=');
    const key = equals === -1 ? '' : parameter.slice(0, equals).trim().toUpperCase();
    const values = (equals === -1 ? parameter : parameter.slice(equals + 1))
      .split(',')
      .map((value) => value.trim().replace(/^"|"$/g, '').trim().toLowerCase())
      .filter((value) => value !== '');
    if (key === 'ENCODING') encoding = values[0];
    else if (key === 'CHARSET') charset = values[0];
    else if (key === 'TYPE' || key === '') {
      // vCard 2.1 writes bare parameters: TEL;CELL;ENCODING... or TEL;QUOTED-PRINTABLE.
      for (const value of values) {
        if (key === '' && (value === 'quoted-printable' || value === 'base64' || value === 'b')) {
          encoding = value;
        } else {
          types.push(value);
        }
      }
    }
  }
  if (colon === -1) return undefined;
  return { group, name, types, encoding, charset, rawValue: text.slice(colon + 1) };
}

function decodeProperty(property: Property, mode: ByteMode | undefined): string {
  const { rawValue, charset } = property;
  if (property.encoding === 'quoted-printable') {
    const input = mode?.byteString ? bytesOf(rawValue) : new TextEncoder().encode(rawValue);
    return decodeBytes(decodeQuotedPrintable(input), charset, mode);
  }
  // vCard structure is ASCII; only a value with other bytes needs decoding.
  if (!mode?.byteString || !/[^\x00-\x7f]/.test(rawValue)) return rawValue;
  return decodeBytes(bytesOf(rawValue), charset, mode);
}

/** A value's bytes in its CHARSET if the platform knows it, else UTF-8 if valid, else the file's. */
function decodeBytes(
  bytes: Uint8Array,
  charset: string | undefined,
  mode: ByteMode | undefined,
): string {
  const named = charset === undefined ? undefined : decoderFor(charset);
  if (named !== undefined) return named.decode(bytes);
  if (mode?.fallback !== undefined && !isUtf8(bytes)) {
    const fallback = decoderFor(mode.fallback);
    if (fallback !== undefined) return fallback.decode(bytes);
  }
  // Invalid bytes become U+FFFD, which the builder reports on the entry.
  return new TextDecoder('utf-8').decode(bytes);
}

function decodeQuotedPrintable(input: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(input.length);
  let length = 0;
  for (let index = 0; index < input.length; index++) {
    const byte = input[index] ?? 0;
    if (byte === 0x3d) {
      const high = hexDigit(input[index + 1]);
      const low = hexDigit(input[index + 2]);
      if (high !== -1 && low !== -1) {
        bytes[length++] = high * 16 + low;
        index += 2;
        continue;
      }
    }
    bytes[length++] = byte;
  }
  return bytes.subarray(0, length);
}

function hexDigit(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** vCard text escapes: \\ \, \; \: and \n or \N for a newline. */
function unescapeText(value: string): string {
  if (!value.includes('\\')) return value;
  return value.replace(/\\(.)/g, (_, char: string) => (char === 'n' || char === 'N' ? '\n' : char));
}

/** Splits a structured value (N, ORG) on unescaped ";" and unescapes each component. */
function splitStructured(value: string): string[] {
  const components: string[] = [];
  let begin = 0;
  for (let index = 0; index < value.length; index++) {
    const char = value[index];
    if (char === '\\') index += 1;
    else if (char === ';') {
      components.push(unescapeText(value.slice(begin, index)));
      begin = index + 1;
    }
  }
  components.push(unescapeText(value.slice(begin)));
  return components;
}

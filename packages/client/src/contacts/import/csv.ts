/**
 * CSV address-book import for the layouts people actually export: Google Contacts (the old
 * "Given Name / Phone 1 - Type" one and the current "First Name / Phone 1 - Label" one) and Outlook,
 * plus anything with recognisable name and phone headers. Parsing follows RFC 4180 but is lenient,
 * because spreadsheets re-save these files in all sorts of ways. Runs in browsers: no node: imports.
 */

import { ParleyError } from '@parley/core';
import {
  ContactBookBuilder,
  type ImportOptions,
  type ImportResult,
  type RawPhoneNumber,
} from './vcard.js';

interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts. */
  line: number;
  /** An opening quote was never closed, so the record swallowed the rest of the file. */
  unterminated: boolean;
}

interface PhoneColumn {
  value: number;
  /** Google's companion "Phone n - Type"/"- Label" column, which is where "Work Fax" lives. */
  type: number | undefined;
}

/**
 * Header words that mark a phone column, in the languages Outlook exports in (English, German,
 * French, Spanish, Italian, Dutch, Portuguese; the header lists are documented, e.g. in roundcube's
 * csv2vcard maps): "Mobiltelefon", "Téléphone (bureau)", "Tél. mobile", "Particular", "Celular" …
 */
const PHONE_HEADER =
  /phone(?!tic)|mobile|\bcell|\btel\b|tél\.|telefon|téléphone|teléfono|telefoon|\bfone\b|\bhandy\b|\bmobil\b|\bportable\b|\bparticular\b|\bcelular\b|cellulare|móvil/;
/**
 * Fax and pager lines cannot be messenger accounts; an assistant's number belongs to somebody else
 * than the contact it is filed under. In every language the phone headers are recognised in.
 */
const SKIPPED_HEADER =
  /fax|télécopie|pager|radiomessagerie|buscapersonas|cercapersone|assistant|assistent/;
const TYPE_HEADER = /\b(type|label)\b/;
/** Column names are short words; a cell with quotes, colons or a "+" is data (or JSON), not a header. */
const HEADER_LIKE = /^[\p{L}\p{N} .'’&_/()-]{1,64}$/u;
const UNREACHABLE_TYPE = /fax|pager|assistant|assistent/i;
/** Google puts several values of one kind into one cell, separated by " ::: ". */
const MULTI_VALUE = /\s*:::\s*/;

/** The first alternative with a non-empty value names the contact. */
const NAME_CHOICES: readonly (readonly string[])[] = [
  ['name'],
  ['display name'],
  ['full name'],
  ['first name', 'middle name', 'last name'],
  ['given name', 'additional name', 'family name'],
  // Outlook in German, French, Spanish, Italian, Portuguese, Dutch.
  ['anzeigename'],
  ['vorname', 'weitere vornamen', 'nachname'],
  ['prénom', 'deuxième prénom', 'nom'],
  ['nombre', 'segundo nombre', 'apellidos'],
  ['nome', 'secondo nome', 'cognome'],
  ['primeiro nome', 'nome do meio', 'último nome'],
  ['voornaam', 'middelste naam', 'achternaam'],
  ['nickname'],
  ['file as'],
  ['organization name'],
  ['organization 1 - name'],
  ['company'],
  ['firma'],
  ['société'],
  ['organización'],
  ['società'],
  ['empresa'],
  ['bedrijf'],
];

export function parseContactsCsv(text: string, options: ImportOptions = {}): ImportResult {
  if (typeof text !== 'string') throw notContactsCsv('empty');
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records = readRecords(body, sniffDelimiter(body));
  const headerIndex = records.findIndex((record) => !isBlank(record));
  const headerRecord = records[headerIndex];
  if (headerRecord === undefined) throw notContactsCsv('empty');

  const header = headerRecord.fields.map((field) =>
    field.trim().toLowerCase().replace(/\s+/g, ' '),
  );
  const phones = phoneColumns(header);
  if (phones.length === 0) throw notContactsCsv('no_phone_columns', header.length);
  const nameChoices = NAME_CHOICES.map((choice) =>
    choice.map((column) => header.indexOf(column)).filter((index) => index !== -1),
  ).filter((indexes) => indexes.length > 0);

  const book = new ContactBookBuilder('csv', options.defaultRegion);
  for (let index = headerIndex + 1; index < records.length; index++) {
    const record = records[index];
    if (record === undefined || isBlank(record)) continue;
    book.entries += 1;
    const entry = book.entries;
    const { fields, line } = record;
    const name = nameOf(fields, nameChoices);

    if (record.unterminated) {
      book.addIssue({
        entry,
        line,
        name,
        reason: 'malformed_entry',
        message: `A quoted field on line ${line} is never closed, so the file from there on could not be read; check the quotes in that row.`,
      });
      continue;
    }
    if (fields.slice(header.length).some((field) => field.trim() !== '')) {
      // Most likely an unquoted comma shifted the columns; guessing which value is which would
      // attach numbers to the wrong fields, so the row is skipped.
      book.addIssue({
        entry,
        line,
        name,
        reason: 'malformed_entry',
        message: `Line ${line} has ${fields.length} fields but the header has ${header.length}; put values that contain commas in double quotes.`,
      });
      continue;
    }

    const numbers: RawPhoneNumber[] = [];
    for (const column of phones) {
      const cell = fields[column.value]?.trim() ?? '';
      if (cell === '') continue;
      const values = cell.split(MULTI_VALUE);
      const typeCell = column.type === undefined ? '' : (fields[column.type] ?? '');
      const types = typeCell.split(MULTI_VALUE);
      values.forEach((value, position) => {
        // One type for several values applies to all of them; otherwise they pair up in order.
        const type = types.length === values.length ? types[position] : typeCell;
        if (type !== undefined && UNREACHABLE_TYPE.test(type)) return;
        numbers.push({ value, line });
      });
    }
    book.addContact(entry, name, numbers);
  }
  return book.result();
}

function phoneColumns(header: readonly string[]): PhoneColumn[] {
  const columns: PhoneColumn[] = [];
  header.forEach((name, index) => {
    if (!HEADER_LIKE.test(name) || !PHONE_HEADER.test(name)) return;
    if (SKIPPED_HEADER.test(name) || TYPE_HEADER.test(name)) return;
    const prefix = /^(.*) - value$/.exec(name)?.[1];
    const type =
      prefix === undefined
        ? undefined
        : [`${prefix} - type`, `${prefix} - label`]
            .map((candidate) => header.indexOf(candidate))
            .find((candidate) => candidate !== -1);
    columns.push({ value: index, type });
  });
  return columns;
}

function nameOf(fields: readonly string[], choices: readonly (readonly number[])[]): string {
  for (const indexes of choices) {
    const name = indexes
      .map((index) => fields[index] ?? '')
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    if (name !== '') return name;
  }
  return '';
}

function isBlank(record: CsvRecord): boolean {
  return !record.unterminated && record.fields.every((field) => field.trim() === '');
}

/**
 * Outlook writes ";" in locales where "," is the decimal separator, and some tools write tabs;
 * the header row tells which one this file uses.
 */
function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>([
    [',', 0],
    [';', 0],
    ['\t', 0],
  ]);
  let inQuotes = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] ?? '';
    if (char === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (char === '\n' || char === '\r')) break;
    else if (!inQuotes && counts.has(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) {
    if (count > (counts.get(best) ?? 0)) best = delimiter;
  }
  return best;
}

/** RFC 4180 records in one linear pass; CRLF, LF and lone CR all end a record outside quotes. */
function readRecords(text: string, delimiter: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const length = text.length;
  let index = 0;
  let line = 1;
  while (index < length) {
    const record: CsvRecord = { fields: [], line, unterminated: false };
    for (;;) {
      let field: string;
      if (text[index] === '"') {
        const pieces: string[] = [];
        let cursor = index + 1;
        for (;;) {
          const quote = text.indexOf('"', cursor);
          if (quote === -1) {
            pieces.push(text.slice(cursor));
            line += countLineBreaks(text, cursor, length);
            cursor = length;
            record.unterminated = true;
            break;
          }
          line += countLineBreaks(text, cursor, quote);
          if (text[quote + 1] === '"') {
            pieces.push(text.slice(cursor, quote + 1));
            cursor = quote + 2;
            continue;
          }
          pieces.push(text.slice(cursor, quote));
          cursor = quote + 1;
          break;
        }
        // Lenient: text between the closing quote and the delimiter is kept ("a"b reads as ab).
        const end = endOfUnquoted(text, cursor, delimiter);
        pieces.push(text.slice(cursor, end));
        field = pieces.join('');
        index = end;
      } else {
        const end = endOfUnquoted(text, index, delimiter);
        field = text.slice(index, end);
        index = end;
      }
      record.fields.push(field);
      const char = text[index];
      if (char === delimiter) {
        index += 1;
        continue;
      }
      if (char === '\r') index += text[index + 1] === '\n' ? 2 : 1;
      else if (char === '\n') index += 1;
      if (char !== undefined) line += 1;
      break;
    }
    records.push(record);
  }
  return records;
}

function endOfUnquoted(text: string, from: number, delimiter: string): number {
  let index = from;
  for (; index < text.length; index++) {
    const char = text[index];
    if (char === delimiter || char === '\n' || char === '\r') break;
  }
  return index;
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let index = from; index < to; index++) {
    const char = text[index];
    if (char === '\n' || (char === '\r' && text[index + 1] !== '\n')) count += 1;
  }
  return count;
}

function notContactsCsv(reason: 'empty' | 'no_phone_columns', columns?: number): ParleyError {
  const message =
    reason === 'empty'
      ? 'The CSV file is empty; export the contacts again and check that the file has rows.'
      : 'The CSV file has no phone-number column (e.g. "Mobile Phone" or "Phone 1 - Value"); export the contacts from Google Contacts or Outlook, or as vCard (.vcf).';
  // Only the column count goes into details: a file without a header row would put contact data
  // into the header, and details may be logged.
  const details =
    columns === undefined ? { format: 'csv', reason } : { format: 'csv', reason, columns };
  return new ParleyError('IMPORT_FAILED', { message, details });
}

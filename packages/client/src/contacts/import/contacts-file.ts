/**
 * Entry point for "import my address book from a file": decides between vCard and CSV from the
 * content (file names lie: Outlook saves .csv as .txt, phones share .vcf as .txt), and turns files
 * that are neither into one IMPORT_FAILED error that tells the user what to export instead.
 */

import { ParleyError } from '@parley/core';
import { parseContactsCsv } from './csv.js';
import { byteString, decoderFor, detectEncoding, detectLegacy, isUtf8 } from './encoding.js';
import {
  containsVCard,
  type ImportOptions,
  type ImportResult,
  parseVCard,
  unlabelledQuotedPrintable,
} from './vcard.js';

export { parseContactsCsv } from './csv.js';
export { describeSkippedEntry, type ImportReport, importSummary } from './report.js';
export type {
  ImportedContact,
  ImportIssue,
  ImportOptions,
  ImportResult,
  SkippedEntry,
} from './vcard.js';
export { contactKey, parseVCard } from './vcard.js';

export interface ContactsFileOptions extends ImportOptions {
  /** Only used to make the error for an unreadable file more helpful. */
  fileName?: string;
}

type FailureReason = 'empty' | 'binary' | 'spreadsheet' | 'unrecognised_format';

const HOW_TO =
  'export the contacts as vCard (.vcf) or CSV (Google Contacts or Outlook format) and try again';

/**
 * Parses an exported address book, given as the file's bytes (preferred: the encoding is then
 * detected) or as text already decoded. Problems with single entries are reported in `issues`;
 * only a file that is neither vCard nor a contacts CSV throws ParleyError('IMPORT_FAILED').
 */
export function parseContactsFile(
  input: string | Uint8Array,
  options: ContactsFileOptions = {},
): ImportResult {
  if (!(input instanceof Uint8Array)) return parseContactsText(input, options);
  const { encoding, bomLength } = detectEncoding(input);
  const bytes = input.subarray(bomLength);
  if (encoding === 'utf-8' || encoding?.startsWith('utf-16')) {
    return parseContactsText(new TextDecoder(encoding).decode(bytes), options);
  }
  const { fileName, ...parseOptions } = options;
  // Not UTF-8: a vCard is read value by value, so that each value's CHARSET can be honoured.
  const raw = byteString(bytes);
  if (/^\s*BEGIN[ \t]*:[ \t]*VCARD[ \t]*(\r\n|\r|\n|$)/i.test(raw) || containsVCard(raw)) {
    if (raw.slice(0, 4096).includes('\u0000')) throw failure('binary', fileName);
    return parseVCard(raw, parseOptions, { byteString: true, fallback: encoding });
  }
  // Undecodable bytes become U+FFFD, which the importers report on each entry they are in.
  const decoder = (encoding && decoderFor(encoding)) || new TextDecoder('utf-8');
  return parseContactsText(decoder.decode(bytes), options);
}

function parseContactsText(text: string, options: ContactsFileOptions): ImportResult {
  const { fileName, ...parseOptions } = options;
  // trim() also removes a byte-order mark.
  if (typeof text !== 'string' || text.trim() === '') {
    throw failure('empty', fileName);
  }
  const sample = text.slice(0, 4096);
  // An xlsx or Numbers file is a zip container; UTF-16 text read as UTF-8 is full of NULs.
  if (sample.startsWith('PK\u0003\u0004')) throw failure('spreadsheet', fileName);
  if (sample.includes('\u0000')) throw failure('binary', fileName);

  if (/^\uFEFF?\s*BEGIN[ \t]*:[ \t]*VCARD[ \t]*(\r\n|\r|\n|$)/i.test(text)) {
    return parseVCard(text, parseOptions, textDecoding(text));
  }
  try {
    return parseContactsCsv(text, parseOptions);
  } catch (error) {
    if (!(error instanceof ParleyError && error.code === 'IMPORT_FAILED')) throw error;
    // vCards after some junk (a mail header, a stray line) are still vCards; the parser reports
    // the junk as an issue.
    if (containsVCard(text)) return parseVCard(text, parseOptions, textDecoding(text));
    throw failure('unrecognised_format', fileName, error);
  }
}

/** vCard 2.1 quoted-printable values without CHARSET: the code page the detector names. */
function textDecoding(text: string): { byteString: false; fallback: string | undefined } {
  if (!/QUOTED-PRINTABLE/i.test(text)) return { byteString: false, fallback: undefined };
  const sample = unlabelledQuotedPrintable(text);
  const fallback = isUtf8(sample) ? undefined : detectLegacy(sample);
  return { byteString: false, fallback };
}

function failure(
  reason: FailureReason,
  fileName: string | undefined,
  cause?: unknown,
): ParleyError {
  const what = fileName ? `"${fileName}"` : 'The file';
  const messages: Record<FailureReason, string> = {
    empty: `${what} is empty; ${HOW_TO}.`,
    binary: `${what} is not a text file; ${HOW_TO}.`,
    spreadsheet: `${what} is a spreadsheet, not a text export; save it as CSV (UTF-8), or ${HOW_TO}.`,
    unrecognised_format: `${what} could not be read as vCard or as a CSV with a phone-number column; ${HOW_TO}.`,
  };
  const details: { reason: FailureReason; fileName?: string } = { reason };
  if (fileName !== undefined) details.fileName = fileName;
  return new ParleyError('IMPORT_FAILED', { message: messages[reason], details, cause });
}

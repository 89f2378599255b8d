/**
 * Which character encoding an exported address book is in. Exports are UTF-8 less often than one
 * would hope: Outlook writes the Windows code page (windows-1252, windows-1250 …) or, for
 * "Unicode", UTF-16 LE with a BOM; old phones write vCards in Shift_JIS or Latin-2 and say so
 * (sometimes) in a CHARSET parameter; a few tools write UTF-16 BE without a BOM.
 *
 * Order: a BOM decides; then the NUL pattern of UTF-16 without a BOM; then valid UTF-8; then the
 * chardet detector (pure JavaScript, so it runs in browsers as well as Node). Decoding is the
 * platform's TextDecoder, which knows all of these encodings. Runs in browsers: no node: imports.
 */

import { analyse } from 'chardet';

export type TextEncodingLabel = string;

export interface DetectedEncoding {
  /** A WHATWG encoding label for TextDecoder; undefined when nothing could be trusted. */
  encoding: TextEncodingLabel | undefined;
  /** Bytes to skip at the start (a BOM). */
  bomLength: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Detects the encoding of a whole file. */
export function detectEncoding(bytes: Uint8Array): DetectedEncoding {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { encoding: 'utf-8', bomLength: 3 };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', bomLength: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', bomLength: 2 };
  const utf16 = utf16WithoutBom(bytes);
  if (utf16 !== undefined) return { encoding: utf16, bomLength: 0 };
  if (isUtf8(bytes)) return { encoding: 'utf-8', bomLength: 0 };
  return { encoding: detectLegacy(bytes), bomLength: 0 };
}

/** True when the bytes are valid UTF-8 (ASCII included). */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The detector's best guess among the encodings TextDecoder can decode; undefined when it has
 * none. ISO-8859-1 is read as windows-1252, as browsers do, since exports from Windows use the
 * 0x80–0x9F range (€, „, “) that ISO-8859-1 leaves to control codes.
 */
export function detectLegacy(bytes: Uint8Array): TextEncodingLabel | undefined {
  for (const match of analyse(bytes)) {
    if (match.confidence < 10) break;
    const label = match.name === 'ISO-8859-1' ? 'windows-1252' : match.name;
    if (/^UTF-(16|32)/i.test(label)) continue;
    if (decoderFor(label) !== undefined) return label;
  }
  return undefined;
}

/** A TextDecoder for `label`, or undefined for a label the platform does not know. */
export function decoderFor(label: string, fatal = false): TextDecoder | undefined {
  try {
    return new TextDecoder(label, { fatal });
  } catch {
    return undefined;
  }
}

/**
 * Every byte as one UTF-16 code unit (0–255), so a parser can find the ASCII structure of a vCard
 * and hand each value's own bytes to the decoder its CHARSET names.
 */
export function byteString(bytes: Uint8Array): string {
  const chunks: string[] = [];
  for (let index = 0; index < bytes.length; index += 8192) {
    chunks.push(String.fromCharCode(...bytes.subarray(index, index + 8192)));
  }
  return chunks.join('');
}

/** The inverse of {@link byteString} for one value. */
export function bytesOf(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length);
  for (let index = 0; index < value.length; index++) bytes[index] = value.charCodeAt(index) & 0xff;
  return bytes;
}

/**
 * UTF-16 text of a Latin-script address book has a NUL in every other byte: in the high byte of
 * each code unit, which comes first in big-endian. A file with NULs at both parities is binary.
 */
function utf16WithoutBom(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  const length = Math.min(bytes.length, 4096) & ~1;
  if (length < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let index = 0; index < length; index += 2) {
    if (bytes[index] === 0) even += 1;
    if (bytes[index + 1] === 0) odd += 1;
  }
  const units = length / 2;
  if (even > units * 0.3 && odd < units * 0.05) return 'utf-16be';
  if (odd > units * 0.3 && even < units * 0.05) return 'utf-16le';
  return undefined;
}

/**
 * Files from the terminal: `parley send … --file PATH` reads a file and sends it end to end
 * encrypted (its name and a type guessed from the extension go inside the MLS message, never to
 * the server), and `parley listen --save DIR` fetches each file that arrives into DIR.
 */

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { ChatMessage, ParleyClient } from '@parley/client';
import { UsageError } from '../usage.js';
import { progressBar } from './output.js';

/** Types the recipients' apps use to show a file inline; anything else is a plain download. */
const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.ogg': 'audio/ogg',
  '.mp4': 'video/mp4',
};

/** Sends the file at `path` in the conversation, with `caption`; the message as stored. */
export async function sendFile(
  client: ParleyClient,
  conversationId: string,
  path: string,
  caption: string | undefined,
): Promise<ChatMessage> {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UsageError(`--file must name a readable file (got '${path}')`);
  }
  const bytes = readFileSync(path);
  const bar = progressBar(process.stderr);
  try {
    return await client.messenger.sendFile(conversationId, bytes, {
      name: basename(path),
      type: TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
      ...(caption ? { caption } : {}),
      onProgress: (done, total) => bar.update('Uploading', done, total),
    });
  } finally {
    bar.done();
  }
}

/**
 * Fetches a received file into `dir` under the name its sender gave (reduced to a plain file
 * name; a name taken already gets the message id in front). Returns the path written.
 */
export async function saveAttachment(
  client: ParleyClient,
  message: ChatMessage,
  dir: string,
): Promise<string> {
  const bytes = await client.messenger.fetchAttachment(message);
  // The sender chose the name: no directories, no dot files, nothing unprintable.
  const cleaned = basename(message.attachment?.name ?? '')
    .replace(/[^\p{L}\p{N} ._-]/gu, '_')
    .replace(/^\.+/, '');
  const name = cleaned || 'attachment';
  let path = join(dir, name);
  if (existsSync(path)) path = join(dir, `${message.id}-${name}`);
  writeFileSync(path, bytes, { mode: 0o600, flag: 'wx' });
  return path;
}

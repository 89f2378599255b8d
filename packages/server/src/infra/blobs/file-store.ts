/**
 * The blob store in files: `<dir>/<id>/<index>`, one file per chunk, streamed from the request to
 * a temporary file and renamed into place once whole (a reader never sees half a chunk). Ids are
 * checked by the route's schema (base64url only), so they cannot name a path outside `dir`.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobStore, exactly } from './blob-store.js';

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class FileBlobStore implements BlobStore {
  readonly kind = 'files' as const;

  constructor(private readonly dir: string) {}

  async put(
    id: string,
    index: number,
    body: AsyncIterable<Uint8Array>,
    length: number,
  ): Promise<void> {
    const folder = this.folder(id);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const temporary = join(folder, `${index}.${randomBytes(6).toString('hex')}.part`);
    try {
      await pipeline(
        Readable.from(exactly(body, length)),
        createWriteStream(temporary, { mode: 0o600 }),
      );
      await rename(temporary, join(folder, String(index)));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async *read(id: string, count: number): AsyncGenerator<Uint8Array> {
    for (let index = 0; index < count; index++) {
      yield* createReadStream(join(this.folder(id), String(index)));
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.folder(id), { recursive: true, force: true });
  }

  private folder(id: string): string {
    if (!SAFE_ID.test(id)) throw new Error('a blob id must be base64url');
    return join(this.dir, id);
  }
}

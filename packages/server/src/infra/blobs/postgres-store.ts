/**
 * The blob store in PostgreSQL, for clusters: each chunk one `blob_chunks` row (bytea), so every
 * node reads what any node stored. A chunk is collected in memory up to its length (at most
 * ATTACHMENT_LIMITS.chunkBytes) before its insert; a download reads one row at a time.
 */

import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { type BlobStore, exactly } from './blob-store.js';

export class PostgresBlobStore implements BlobStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly db: Db) {}

  async put(
    id: string,
    index: number,
    body: AsyncIterable<Uint8Array>,
    length: number,
  ): Promise<void> {
    const data = new Uint8Array(length);
    let at = 0;
    for await (const piece of exactly(body, length)) {
      data.set(piece, at);
      at += piece.byteLength;
    }
    await this.db
      .insertInto('blob_chunks')
      .values({ blob_id: id, idx: index, data })
      .onConflict((oc) => oc.columns(['blob_id', 'idx']).doUpdateSet({ data: sql`excluded.data` }))
      .execute();
  }

  async *read(id: string, count: number): AsyncGenerator<Uint8Array> {
    for (let index = 0; index < count; index++) {
      const row = await this.db
        .selectFrom('blob_chunks')
        .select('data')
        .where('blob_id', '=', id)
        .where('idx', '=', index)
        .executeTakeFirst();
      if (!row) throw new Error(`blob ${id} has no chunk ${index}`);
      yield row.data;
    }
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('blob_chunks').where('blob_id', '=', id).execute();
  }
}

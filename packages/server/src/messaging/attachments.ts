/**
 * End-to-end encrypted attachments, as the server sees them: opaque ciphertext under a random id,
 * uploaded by one device for one conversation, fetched by that conversation's member devices.
 * The server never learns a key, a file name or a content type — those travel inside the MLS
 * message (core/envelope.ts) — only the size, the uploader, the conversation and the timing.
 *
 * Life of an attachment: `create` (the size counts against the uploader account's quota at once)
 * → `putChunk` by index, in any order, any number of times (`status` says which arrived, so a cut
 * upload resumes) → `complete`, which names the recipients: the conversation's member devices
 * other than the uploader, as they are then → each recipient `open`s it and, once it has checked
 * and decrypted the bytes, confirms with `fetched`. It is deleted when the last recipient still
 * in the conversation confirmed, or at the message TTL from its creation, whichever comes first
 * (the sweep).
 */

import { randomBytes } from 'node:crypto';
import {
  ATTACHMENT_LIMITS,
  type AttachmentUpload,
  type DeviceRef,
  ParleyError,
} from '@parley/core';
import type { BlobStore } from '../infra/blobs/blob-store.js';
import type { Db, Executor } from '../infra/db/database.js';
import { forUpdate } from '../infra/db/dialect.js';

export interface AttachmentLimits {
  /** The largest attachment (ciphertext bytes). */
  maxBytes: number;
  /** Bytes of one account's attachments not yet deleted. */
  quotaBytes: number;
  /** How long an attachment lives at most: the message TTL. */
  ttlMs: number;
}

/** Attachments the sweep deletes per pass. */
const SWEEP_BATCH = 500;

/**
 * Inside an account deletion's transaction: the account's unfinished uploads expire now (the
 * sweep deletes their bytes), and its finished ones stay for their recipients without naming
 * their uploader.
 */
export async function forgetUploader(trx: Executor, accountId: string): Promise<void> {
  await trx
    .updateTable('attachments')
    .set({ expires_at: 0 })
    .where('account_id', '=', accountId)
    .where('completed_at', 'is', null)
    .execute();
  await trx
    .updateTable('attachments')
    .set({ account_id: '', device_id: '' })
    .where('account_id', '=', accountId)
    .execute();
}

export class Attachments {
  constructor(
    private readonly db: Db,
    readonly store: BlobStore,
    readonly limits: AttachmentLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(device: DeviceRef, groupId: string, size: number): Promise<AttachmentUpload> {
    if (size > this.limits.maxBytes) {
      throw new ParleyError('ATTACHMENT_TOO_LARGE', {
        details: { maxBytes: this.limits.maxBytes },
      });
    }
    await this.requireMember(this.db, device.deviceId, groupId);
    const now = this.clock();
    const chunkBytes = ATTACHMENT_LIMITS.chunkBytes;
    const row = {
      id: randomBytes(16).toString('base64url'),
      account_id: device.accountId,
      device_id: device.deviceId,
      group_id: groupId,
      size,
      chunk_bytes: chunkBytes,
      chunk_count: Math.ceil(size / chunkBytes),
      created_at: now,
      expires_at: now + this.limits.ttlMs,
      completed_at: null,
    };
    await this.db.transaction().execute(async (trx) => {
      // The account's row orders its uploads across nodes: two at once cannot both fit the quota.
      await forUpdate(
        trx,
        trx.selectFrom('accounts').select('id').where('id', '=', device.accountId),
      ).executeTakeFirst();
      const { used } = await trx
        .selectFrom('attachments')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size'), eb.lit(0)).as('used'))
        .where('account_id', '=', device.accountId)
        .where('expires_at', '>', now)
        .executeTakeFirstOrThrow();
      if (Number(used) + size > this.limits.quotaBytes) {
        throw new ParleyError('ATTACHMENT_QUOTA_EXCEEDED', {
          details: { quotaBytes: this.limits.quotaBytes, usedBytes: Number(used) },
        });
      }
      await trx.insertInto('attachments').values(row).execute();
    });
    return this.describe(row, []);
  }

  /** Stores chunk `index` from `body`, streamed to the blob store. */
  async putChunk(
    device: DeviceRef,
    id: string,
    index: number,
    body: AsyncIterable<Uint8Array>,
    declaredLength?: number,
  ): Promise<void> {
    const upload = await this.ownUpload(device, id);
    if (upload.completed_at !== null) {
      throw new ParleyError('ATTACHMENT_CHUNK_INVALID', { details: { problem: 'complete' } });
    }
    if (index >= upload.chunk_count) {
      throw new ParleyError('ATTACHMENT_CHUNK_INVALID', {
        details: { problem: 'index', chunkCount: upload.chunk_count },
      });
    }
    const length =
      index < upload.chunk_count - 1
        ? upload.chunk_bytes
        : upload.size - upload.chunk_bytes * (upload.chunk_count - 1);
    if (declaredLength !== undefined && declaredLength !== length) {
      throw new ParleyError('ATTACHMENT_CHUNK_INVALID', {
        details: { problem: 'length', expected: length, got: declaredLength },
      });
    }
    await this.store.put(id, index, body, length);
    await this.db
      .insertInto('attachment_chunks')
      .values({ attachment_id: id, idx: index })
      .onConflict((oc) => oc.columns(['attachment_id', 'idx']).doNothing())
      .execute();
  }

  /** The upload as the uploader resumes it: which chunks the server holds. */
  async status(device: DeviceRef, id: string): Promise<AttachmentUpload> {
    const upload = await this.ownUpload(device, id);
    return this.describe(upload, await this.received(id));
  }

  /** Every chunk arrived: the attachment can be fetched, by the conversation's devices as of now. */
  async complete(device: DeviceRef, id: string): Promise<AttachmentUpload> {
    const upload = await this.ownUpload(device, id);
    const received = await this.received(id);
    if (upload.completed_at !== null) return this.describe(upload, received);
    const missing: number[] = [];
    for (let i = 0, r = 0; i < upload.chunk_count; i++) {
      if (received[r] === i) r++;
      else missing.push(i);
    }
    if (missing.length > 0) {
      throw new ParleyError('ATTACHMENT_INCOMPLETE', { details: { missing } });
    }
    const now = this.clock();
    await this.db.transaction().execute(async (trx) => {
      const recipients = await trx
        .selectFrom('group_members')
        .select('device_id')
        .where('group_id', '=', upload.group_id)
        .where('device_id', '!=', device.deviceId)
        .execute();
      if (recipients.length > 0) {
        await trx
          .insertInto('attachment_pending')
          .values(recipients.map((r) => ({ attachment_id: id, device_id: r.device_id })))
          .execute();
      }
      await trx
        .updateTable('attachments')
        .set({ completed_at: now, recipients: recipients.length })
        .where('id', '=', id)
        .execute();
    });
    return this.describe({ ...upload, completed_at: now }, received);
  }

  /**
   * A complete attachment for a device of its conversation: its size and its bytes, read from the
   * store as the response is written.
   */
  async open(
    device: DeviceRef,
    id: string,
  ): Promise<{ size: number; body: AsyncIterable<Uint8Array> }> {
    const row = await this.db
      .selectFrom('attachments')
      .select(['group_id', 'size', 'chunk_count', 'completed_at', 'expires_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || row.completed_at === null || row.expires_at <= this.clock()) {
      throw new ParleyError('ATTACHMENT_NOT_FOUND');
    }
    await this.requireMember(this.db, device.deviceId, row.group_id);
    return { size: row.size, body: this.store.read(id, row.chunk_count) };
  }

  /**
   * The device has the attachment: it no longer waits for it, and when no recipient still in the
   * conversation does, it is deleted. Returns whether it was.
   */
  async fetched(device: DeviceRef, id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('attachments')
      .select(['group_id', 'completed_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || row.completed_at === null) throw new ParleyError('ATTACHMENT_NOT_FOUND');
    await this.requireMember(this.db, device.deviceId, row.group_id);
    await this.db
      .deleteFrom('attachment_pending')
      .where('attachment_id', '=', id)
      .where('device_id', '=', device.deviceId)
      .execute();
    const done = await this.fetchedByAll(this.db).where('id', '=', id).executeTakeFirst();
    if (!done) return false;
    await this.delete([id]);
    return true;
  }

  /**
   * Deletes attachments past their expiry, and those every recipient still in the conversation
   * has fetched (a recipient that left stops holding one back). Returns how many went.
   */
  async sweep(now = this.clock()): Promise<number> {
    let gone = 0;
    for (;;) {
      const expired = await this.db
        .selectFrom('attachments')
        .select('id')
        .where('expires_at', '<=', now)
        .limit(SWEEP_BATCH)
        .execute();
      const fetched = await this.fetchedByAll(this.db).limit(SWEEP_BATCH).execute();
      const ids = [...new Set([...expired, ...fetched].map((r) => r.id))];
      if (ids.length === 0) return gone;
      await this.delete(ids);
      gone += ids.length;
      if (ids.length < SWEEP_BATCH) return gone;
    }
  }

  /** Completed attachments with recipients, none of whom, still a member, waits for them. */
  private fetchedByAll(db: Executor) {
    return db
      .selectFrom('attachments as a')
      .select('a.id')
      .where('a.completed_at', 'is not', null)
      .where('a.recipients', '>', 0)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('attachment_pending as p')
              .innerJoin('group_members as m', (join) =>
                join
                  .onRef('m.device_id', '=', 'p.device_id')
                  .onRef('m.group_id', '=', 'a.group_id'),
              )
              .select('p.device_id')
              .whereRef('p.attachment_id', '=', 'a.id'),
          ),
        ),
      );
  }

  /** The rows first (nobody finds it any more), then the bytes. */
  private async delete(ids: string[]): Promise<void> {
    await this.db.deleteFrom('attachments').where('id', 'in', ids).execute();
    for (const id of ids) await this.store.remove(id);
  }

  /** Someone else's upload is answered as if there were none. */
  private async ownUpload(device: DeviceRef, id: string) {
    const row = await this.db
      .selectFrom('attachments')
      .selectAll()
      .where('id', '=', id)
      .where('device_id', '=', device.deviceId)
      .where('expires_at', '>', this.clock())
      .executeTakeFirst();
    if (!row) throw new ParleyError('ATTACHMENT_NOT_FOUND');
    return row;
  }

  private async received(id: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom('attachment_chunks')
      .select('idx')
      .where('attachment_id', '=', id)
      .orderBy('idx')
      .execute();
    return rows.map((r) => r.idx);
  }

  private async requireMember(db: Executor, deviceId: string, groupId: string): Promise<void> {
    const member = await db
      .selectFrom('group_members')
      .select('device_id')
      .where('group_id', '=', groupId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    if (!member) throw new ParleyError('NOT_GROUP_MEMBER');
  }

  private describe(
    row: {
      id: string;
      size: number;
      chunk_bytes: number;
      chunk_count: number;
      completed_at: number | null;
      expires_at: number;
    },
    received: number[],
  ): AttachmentUpload {
    return {
      id: row.id,
      size: row.size,
      chunkBytes: row.chunk_bytes,
      chunkCount: row.chunk_count,
      received,
      complete: row.completed_at !== null,
      expiresAt: row.expires_at,
    };
  }
}

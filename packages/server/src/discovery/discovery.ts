/**
 * Discovery: blind evaluation charged against each account's leaky bucket, free re-keying of
 * already-paid elements after a key rotation, and resolution of filter matches. A number that is
 * registered but not discoverable resolves exactly like one that is not registered: not at all.
 */

import {
  type Budget,
  fromBase64Url,
  ParleyError,
  type ResolveResponse,
  toBase64Url,
} from '@parley/core';
import type { ServerConfig } from '../config/config.js';
import type { Directory } from '../directory/directory.js';
import { devicesOfAccounts } from '../identity/device-store.js';
import type { Bucket, Bus } from '../infra/bus/bus.js';
import { InProcessBus } from '../infra/bus/in-process.js';
import type { Db, Executor } from '../infra/db/database.js';
import { forUpdate } from '../infra/db/dialect.js';
import type { OprfPool } from '../infra/oprf/oprf-pool.js';
import type { ContactLinks } from './contact-links.js';

const HOUR_MS = 3_600_000;

export class Discovery {
  private readonly resolveLimit: Bucket = { name: 'resolve', capacity: 5_000, windowMs: HOUR_MS };
  evaluations = 0;

  /** A deleted account's resolve limit is forgotten with it (its budget goes with its row). */
  async forgetAccount(accountId: string): Promise<void> {
    await this.bus.forget(this.resolveLimit, accountId);
  }

  constructor(
    private readonly db: Db,
    private readonly pool: OprfPool,
    private readonly directory: Directory,
    private readonly config: ServerConfig['discovery'],
    private readonly links: ContactLinks,
    private readonly now: () => number = Date.now,
    /** Where the resolve limits live: shared by every node on the bus. */
    private readonly bus: Bus = new InProcessBus(),
  ) {}

  private budgetOf(level: number): Budget {
    return {
      remaining: Math.max(0, Math.floor(this.config.budgetCapacity - level)),
      capacity: this.config.budgetCapacity,
      refillPerHour: this.config.budgetRefillPerHour,
    };
  }

  /** Charges `count` evaluations to the account's leaky bucket, or throws with Retry-After. */
  private async charge(accountId: string, count: number): Promise<Budget> {
    const { budgetCapacity: capacity, budgetRefillPerHour: perHour } = this.config;
    const drainPerMs = perHour / HOUR_MS;
    return this.db.transaction().execute(async (trx) => {
      const row = await forUpdate(
        trx,
        trx
          .selectFrom('accounts')
          .select(['budget_level', 'budget_at'])
          .where('id', '=', accountId),
      ).executeTakeFirstOrThrow();
      const now = this.now();
      const level = Math.max(0, row.budget_level - (now - row.budget_at) * drainPerMs);
      if (level + count > capacity) {
        const budget = this.budgetOf(level);
        const excess = level + count - capacity;
        const retryAfterMs =
          count > capacity || drainPerMs === 0 ? undefined : Math.ceil(excess / drainPerMs);
        throw new ParleyError('DISCOVERY_BUDGET_EXHAUSTED', {
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          details: { ...budget, requested: count },
          ...(count > capacity
            ? { message: `A batch of ${count} exceeds the budget capacity of ${capacity}.` }
            : {}),
        });
      }
      await trx
        .updateTable('accounts')
        .set({ budget_level: level + count, budget_at: now })
        .where('id', '=', accountId)
        .execute();
      await this.addUsage(trx, accountId, this.directory.currentKeyId, count, 0);
      return this.budgetOf(level + count);
    });
  }

  private async addUsage(
    trx: Executor,
    accountId: string,
    keyId: string,
    evaluated: number,
    translated: number,
  ): Promise<void> {
    await trx
      .insertInto('key_usage')
      .values({ account_id: accountId, key_id: keyId, evaluated, translated })
      .onConflict((oc) =>
        oc.columns(['account_id', 'key_id']).doUpdateSet((eb) => ({
          evaluated: eb('key_usage.evaluated', '+', evaluated),
          translated: eb('key_usage.translated', '+', translated),
        })),
      )
      .execute();
  }

  async evaluate(
    accountId: string,
    keyId: string,
    blinded: string[],
  ): Promise<{ keyId: string; evaluatedElements: string[]; proof: string; budget: Budget }> {
    this.directory.requireCurrent(keyId);
    const packed = pack(blinded);
    const budget = await this.charge(accountId, blinded.length);
    let evaluated: { elements: Uint8Array; proof: Uint8Array };
    try {
      // VOPRF (RFC 9497 mode 0x01): one batched proof against the published pkS.
      evaluated = await this.pool.evaluateWithProof(keyId, packed);
    } catch (error) {
      // Malformed input is refused, not billed.
      await this.refund(accountId, blinded.length);
      throw error;
    }
    this.evaluations += blinded.length;
    return {
      keyId,
      evaluatedElements: unpack(evaluated.elements),
      proof: toBase64Url(evaluated.proof),
      budget,
    };
  }

  private async refund(accountId: string, count: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await forUpdate(
        trx,
        trx.selectFrom('accounts').select('budget_level').where('id', '=', accountId),
      ).executeTakeFirstOrThrow();
      await trx
        .updateTable('accounts')
        .set({ budget_level: Math.max(0, row.budget_level - count) })
        .where('id', '=', accountId)
        .execute();
      await this.addUsage(trx, accountId, this.directory.currentKeyId, -count, 0);
    });
  }

  /**
   * Re-keys blinded elements the account already paid for under an older key. Free, but capped at
   * what the account evaluated under that key, so it cannot stand in for new evaluations — and a
   * fresh number blinded and sent here yields (k'/k)·P, which matches nothing in the directory.
   */
  async translate(
    accountId: string,
    fromKeyId: string,
    toKeyId: string,
    blinded: string[],
  ): Promise<{ keyId: string; translatedElements: string[]; proof: string }> {
    this.directory.requireCurrent(toKeyId);
    if (fromKeyId === toKeyId || !this.directory.retainedKeyIds().includes(fromKeyId)) {
      throw new ParleyError('KEY_ID_UNKNOWN', {
        message: `Key ${fromKeyId} is no longer retained; discover these contacts afresh.`,
        details: { currentKeyId: this.directory.currentKeyId },
      });
    }
    const packed = pack(blinded);
    await this.db.transaction().execute(async (trx) => {
      const usage = await forUpdate(
        trx,
        trx
          .selectFrom('key_usage')
          .select(['evaluated', 'translated'])
          .where('account_id', '=', accountId)
          .where('key_id', '=', fromKeyId),
      ).executeTakeFirst();
      const allowance = (usage?.evaluated ?? 0) - (usage?.translated ?? 0);
      if (blinded.length > allowance) {
        throw new ParleyError('DISCOVERY_BUDGET_EXHAUSTED', {
          message: `Only ${Math.max(0, allowance)} elements evaluated under key ${fromKeyId} remain to re-key; evaluate the rest.`,
          details: { allowance: Math.max(0, allowance), requested: blinded.length },
        });
      }
      await this.addUsage(trx, accountId, fromKeyId, 0, blinded.length);
      await this.addUsage(trx, accountId, toKeyId, blinded.length, 0);
    });
    // A proof that the factor is k_to/k_from of the two published keys.
    const translated = await this.pool.translateWithProof(fromKeyId, toKeyId, packed);
    return {
      keyId: toKeyId,
      translatedElements: unpack(translated.elements),
      proof: toBase64Url(translated.proof),
    };
  }

  async resolve(accountId: string, keyId: string, tokens: string[]): Promise<ResolveResponse> {
    this.directory.requireCurrent(keyId);
    const limit = await this.bus.take(this.resolveLimit, accountId, tokens.length);
    if (!limit.allowed) throw new ParleyError('RATE_LIMITED', { retryAfterMs: limit.retryAfterMs });
    const raw = tokens.map((t) => fromBase64Url(t)!);
    const rows = await this.db
      .selectFrom(this.directory.entries(keyId))
      .innerJoin('accounts', 'accounts.seq', 'account_seq')
      .select(['accounts.id as id', 'token'])
      .where('token', 'in', raw)
      .where('accounts.discoverable', '=', 1)
      .execute();
    if (rows.length === 0) return { matches: [] };
    // Whoever resolved a number has it: that is who may see the account online (if it allows).
    await this.links.record(
      accountId,
      rows.map((r) => r.id),
    );
    const devices = await devicesOfAccounts(
      this.db,
      rows.map((r) => r.id),
    );
    return {
      matches: rows.map((r) => ({
        token: toBase64Url(r.token),
        accountId: r.id,
        devices: devices.filter((d) => d.account_id === r.id).map((d) => ({ deviceId: d.id })),
      })),
    };
  }
}

/** Schema validation already checked the base64url shape and length. */
function pack(elements: string[]): Uint8Array {
  const out = new Uint8Array(elements.length * 32);
  elements.forEach((e, i) => {
    const bytes = fromBase64Url(e);
    if (bytes?.length !== 32) {
      throw new ParleyError('INVALID_ELEMENT', { details: { index: i, reason: 'not 32 bytes' } });
    }
    out.set(bytes, i * 32);
  });
  return out;
}

function unpack(packed: Uint8Array): string[] {
  const out: string[] = [];
  for (let i = 0; i < packed.length; i += 32) out.push(toBase64Url(packed.subarray(i, i + 32)));
  return out;
}

/**
 * What the client checks before it believes a directory filter (issue 15, docs/security.md):
 * a doctored filter would make the client resolve — and so reveal — numbers of people who are
 * not on Parley. Every directory answer carries a statement signed by the server's directory
 * signing key (pinned on first use per server): key id, version, count, and for a snapshot its
 * range and SHA-256. The client refuses, before sending anything for it:
 * - a statement whose signature does not verify, or a signing key other than the pinned one;
 * - a snapshot whose bytes, range or count are not the ones signed;
 * - a count the range cannot hold within the 2⁻³² false-positive bound;
 * - a version older than the one it holds for the same key id.
 * A doctored filter of honest size (real entries swapped for non-users' numbers) passes these;
 * discovery.ts resolves new matches one at a time and stops at the first the server does not
 * confirm, so at most one number leaves for it.
 */

import {
  type DirectoryResponse,
  type DirectoryStatement,
  filterCapacity,
  fromBase64Url,
  type MembershipFilter,
  ParleyError,
  parseFilterRange,
  snapshotDigest,
  toBase64Url,
  verifyDirectoryStatement,
} from '@parley/core';
import type { ClientStore } from '../store/store.js';

const PINS = 'directorySigningKeys';

const refuse = (reason: string, details: Record<string, unknown> = {}) =>
  new ParleyError('FILTER_REFUSED', { details: { reason, ...details } });

/** Checks a directory answer's signed statement against the pinned key (pinning the first). */
export async function checkStatement(
  store: ClientStore,
  serverUrl: string,
  response: DirectoryResponse,
): Promise<void> {
  const range = parseFilterRange(response.range);
  if (range === undefined) throw refuse('range');
  const statement: DirectoryStatement =
    response.type === 'snapshot'
      ? {
          kind: 'snapshot',
          keyId: response.keyId,
          version: response.version,
          count: response.count,
          range,
          digest: fromBase64Url(response.digest) ?? new Uint8Array(0),
        }
      : { kind: 'state', keyId: response.keyId, version: response.version, count: response.count };
  if (response.publicKey !== undefined) {
    const publicKey = fromBase64Url(response.publicKey);
    if (publicKey?.length !== 32) throw refuse('public key');
    statement.publicKey = publicKey;
  }
  const key = fromBase64Url(response.signingKey);
  const signature = fromBase64Url(response.signature);
  if (
    !key ||
    !signature ||
    (statement.kind === 'snapshot' && statement.digest.length !== 32) ||
    !(await verifyDirectoryStatement(statement, signature, key))
  ) {
    throw refuse('signature');
  }
  const pins = (await store.get<Record<string, string>>(PINS)) ?? {};
  const pinned = pins[serverUrl];
  if (pinned === undefined) {
    await store.set(PINS, { ...pins, [serverUrl]: toBase64Url(key) });
  } else if (pinned !== toBase64Url(key)) {
    throw refuse('signing key changed', { pinned, offered: toBase64Url(key) });
  }
  // The count must fit the range within the 2⁻³² bound (a snapshot's own range; a delta is
  // coded at the client's range, which it echoes).
  if (response.count > filterCapacity(range)) {
    throw refuse('count over capacity', { count: response.count, capacity: filterCapacity(range) });
  }
}

/** Forgets the pinned directory signing keys (the session that pinned them ended). */
export async function forgetDirectoryPins(store: ClientStore): Promise<void> {
  await store.delete(PINS);
}

/** A snapshot's bytes and decoded filter must be exactly what the statement signed. */
export async function checkSnapshot(
  response: Extract<DirectoryResponse, { type: 'snapshot' }>,
  data: Uint8Array,
  filter: MembershipFilter,
): Promise<void> {
  if (toBase64Url(await snapshotDigest(data)) !== response.digest) throw refuse('digest');
  if (String(filter.range) !== response.range) throw refuse('snapshot range');
  // Distinct values: two fingerprints may share one at this range (about count · 2⁻³³ of them).
  if (filter.size > response.count) throw refuse('snapshot count');
  if (filter.needsResize()) throw refuse('count over capacity');
}

/** A filter of the same key id never goes back to an older version. */
export function checkVersion(
  held: { keyId: string; version: number } | undefined,
  response: DirectoryResponse,
): void {
  if (held && held.keyId === response.keyId && response.version < held.version) {
    throw refuse('version went back', { held: held.version, offered: response.version });
  }
}

/**
 * The server's OPRF public keys as this device pins them (docs/design.md, "Verifiable evaluation"
 * and "Key rotation statements"). The first key the directory names is pinned on first use. A
 * later key id is accepted only through the chain of rotation statements from the key pinned last
 * (the head): each statement signed by the key before it (core rotation-statement.ts), the last
 * one naming exactly the key id and public key the signed directory statement names. So a new
 * OPRF key needs both the directory signing key (which signs the directory answer) and the old
 * OPRF key (which signs the rotation); whoever holds only one of them cannot bring in a key.
 * Refused, with nothing sent under the new key:
 * - another public key for a pinned key id (OPRF_PROOF_INVALID, as before rotations were signed);
 * - a new key id without a valid chain from the head, or a key older than the head
 *   (OPRF_KEY_UNENDORSED).
 */

import {
  fromBase64Url,
  loadRotationSigner,
  type Oprf,
  ParleyError,
  type RotationSigner,
  type RotationStatement,
} from '@parley/core';
import type { ClientStore } from '../store/store.js';
import type { ApiClient } from '../transport/api.js';

/** Key id → the server's OPRF public key pkS (base64url). */
type KeyPins = Record<string, string>;

/**
 * Kept when consent is withdrawn: a pin is not address-book data, and forgetting it would let the
 * server hand a returning client another key under the same id, or a key no old key endorsed.
 */
const PINS = 'oprfKeyPins';
/** The key id the directory named last (the chain to a new key starts there). */
const HEAD = 'oprfKeyHead';

export function proofInvalid(keyId: string, reason: string): ParleyError {
  return new ParleyError('OPRF_PROOF_INVALID', { details: { keyId, reason } });
}

function unendorsed(keyId: string, reason: string, details: Record<string, unknown> = {}) {
  return new ParleyError('OPRF_KEY_UNENDORSED', { details: { keyId, reason, ...details } });
}

export class OprfKeyPins {
  private signer: Promise<RotationSigner> | undefined;

  constructor(
    private readonly store: ClientStore,
    private readonly api: ApiClient,
    private readonly oprf: () => Promise<Oprf>,
  ) {}

  /**
   * Accepts the key the (signature-checked) directory answer names, or throws: the first key on
   * first use; a pinned key as pinned; a new key through the rotation chain from the head.
   */
  async accept(keyId: string, publicKey: string | undefined): Promise<void> {
    if (publicKey === undefined) return; // nothing can be evaluated under it (discovery.ts)
    const pins = (await this.store.get<KeyPins>(PINS)) ?? {};
    const head = await this.store.get<string>(HEAD);
    const pinned = pins[keyId];
    if (pinned !== undefined && pinned !== publicKey) {
      throw proofInvalid(keyId, 'the server published another public key for a pinned key id');
    }
    if (pinned !== undefined) {
      // A key older than the head: the server went back to a key it had rotated away from.
      if (head !== undefined && head !== keyId) {
        throw unendorsed(keyId, 'the server went back to an earlier key', { head });
      }
      if (head === undefined) await this.store.set(HEAD, keyId);
      return;
    }
    if (Object.keys(pins).length === 0) {
      await this.store.set<KeyPins>(PINS, { [keyId]: publicKey });
      await this.store.set(HEAD, keyId);
      return;
    }
    const endorsed = await this.follow(pins, head, keyId, publicKey);
    await this.store.set<KeyPins>(PINS, { ...pins, ...endorsed });
    await this.store.set(HEAD, keyId);
  }

  /**
   * Checks the chain of rotation statements from the head (a device pinned before heads were
   * kept: from any pinned key) to (`keyId`, `publicKey`); returns the keys it endorses.
   */
  private async follow(
    pins: KeyPins,
    head: string | undefined,
    keyId: string,
    publicKey: string,
  ): Promise<KeyPins> {
    const { rotations } = await this.api.rotations(head);
    const start =
      head ?? [...rotations].reverse().find((r) => pins[r.oldKeyId] === r.oldPublicKey)?.oldKeyId;
    const from = start === undefined ? -1 : rotations.findIndex((r) => r.oldKeyId === start);
    if (start === undefined || from < 0) {
      throw unendorsed(keyId, 'no rotation statement from the pinned key', { head: start });
    }
    this.signer ??= this.oprf().then((oprf) => loadRotationSigner(oprf));
    const signer = await this.signer;
    const endorsed: KeyPins = {};
    let at = { keyId: start, publicKey: pins[start]!, rotatedAt: 0 };
    for (const r of rotations.slice(from)) {
      if (r.oldKeyId !== at.keyId || r.oldPublicKey !== at.publicKey) {
        throw unendorsed(keyId, 'the rotation statements do not form a chain', { at: at.keyId });
      }
      if (r.rotatedAt < at.rotatedAt) {
        throw unendorsed(keyId, 'a rotation statement goes back in time', { at: r.newKeyId });
      }
      const known = pins[r.newKeyId] ?? endorsed[r.newKeyId];
      if (known !== undefined && known !== r.newPublicKey) {
        throw proofInvalid(r.newKeyId, 'a rotation statement names another key for a pinned id');
      }
      const statement: RotationStatement = {
        oldKeyId: r.oldKeyId,
        oldPublicKey: decode(r.oldPublicKey),
        newKeyId: r.newKeyId,
        newPublicKey: decode(r.newPublicKey),
        rotatedAt: r.rotatedAt,
      };
      if (!signer.verify(statement, decode(r.signature))) {
        throw unendorsed(keyId, 'a rotation statement’s signature does not verify', {
          at: r.newKeyId,
        });
      }
      endorsed[r.newKeyId] = r.newPublicKey;
      at = { keyId: r.newKeyId, publicKey: r.newPublicKey, rotatedAt: r.rotatedAt };
      if (at.keyId === keyId) break;
    }
    if (at.keyId !== keyId || at.publicKey !== publicKey) {
      throw unendorsed(keyId, 'no rotation statement endorses this key', { head: start });
    }
    return endorsed;
  }

  /** The pinned public key of `keyId`, if the directory has named one. */
  async publicKey(keyId: string): Promise<Uint8Array | undefined> {
    const pinned = (await this.store.get<KeyPins>(PINS))?.[keyId];
    return pinned === undefined ? undefined : decode(pinned);
  }

  /** Forgets every pin and the head (the session that pinned them ended). */
  async forget(): Promise<void> {
    await this.store.delete(PINS);
    await this.store.delete(HEAD);
  }
}

/** base64url from a server answer; INVALID_RESPONSE when it is not. */
export function decode(b64: string): Uint8Array {
  const bytes = fromBase64Url(b64);
  if (!bytes) throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'bad base64url' } });
  return bytes;
}

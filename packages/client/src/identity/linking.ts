/**
 * Linking a device to an account, by a device the account already has (docs/design.md,
 * "Linking"). The server only relays:
 * 1. The new device makes a one-time X25519 key and a secret, opens a link session (its key, its
 *    name, the secret's hash) and shows a QR code (the session handle and the whole key) and a
 *    typed code (the handle and an 80-bit commitment to the key, so a server that swaps the key
 *    on the typed path is caught: @parley/core linking.ts).
 * 2. An existing device reads the code, fetches the session, checks the key against the code,
 *    shows what asks to be linked (name, time) and, on the user's approval, seals the
 *    provisioning envelope to that key — the identity key, the settings, the pinned contacts'
 *    keys and the contacts the user chose to bring — and approves: the server makes the device.
 * 3. The new device, polling, receives its account and device ids and the envelope, opens it,
 *    and becomes a device of the account: it certifies its own MLS key with the identity key.
 * The approving device then adds the new device to every conversation it is in.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import {
  fromBase64Url,
  type LinkCode,
  type LinkKeys,
  linkQrPayload,
  newLinkKeys,
  openProvisioning,
  ParleyError,
  type PresenceVisibility,
  parseLinkQrPayload,
  parseTypedLinkCode,
  sealProvisioning,
  toBase64Url,
  typedCodeMatches,
  typedLinkCode,
} from '@parley/core';
import type { ApiClient } from '../transport/api.js';
import type { PortableIdentityKeys } from './own-identity.js';
import type { Pin } from './trust.js';

/** How often a new device asks whether it was approved. */
const POLL_MS = 1_000;

/** What the approving device hands over, sealed to the new device's key. */
export interface ProvisioningPayload {
  v: 1;
  accountId: string;
  identity: PortableIdentityKeys;
  discoverable: boolean;
  presence: PresenceVisibility;
  /** The identity keys of the account's contacts, as the approving device has pinned them. */
  pins: Record<string, Pin>;
  /** The address-book consent as granted on the approving device, and the contacts brought. */
  addressBook?: { consent: unknown; contacts: unknown[] };
}

/** A link request as the new device shows it. */
export interface PendingLink {
  linkId: string;
  handle: string;
  /** The QR code's text: `parley-link:1:<handle>:<key>`. */
  qr: string;
  /** The typed code, six groups of four characters. */
  code: string;
  expiresAt: string;
}

/** The new device's side, kept until approval. */
export interface LinkSecrets {
  keys: LinkKeys;
  secret: string;
}

/** A link request as the approving device shows it before the user approves. */
export interface LinkRequestInfo {
  handle: string;
  publicKey: Uint8Array;
  deviceName: string;
  createdAt: string;
  expiresAt: string;
  /** How the code came: a QR code carries the whole key; a typed code its commitment. */
  via: 'qr' | 'typed';
}

export interface LinkApproval {
  accountId: string;
  deviceId: string;
  envelope: Uint8Array;
}

/** Step 1, on the new device. */
export async function beginLink(
  api: ApiClient,
  deviceName: string,
): Promise<{ pending: PendingLink; secrets: LinkSecrets }> {
  const keys = await newLinkKeys();
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  const created = await api.createLink({
    publicKey: toBase64Url(keys.publicKey),
    deviceName,
    credentialHash: toBase64Url(sha256(new TextEncoder().encode(secret))),
  });
  const code: LinkCode = { handle: created.handle, publicKey: keys.publicKey };
  return {
    pending: {
      linkId: created.linkId,
      handle: created.handle,
      qr: linkQrPayload(code),
      code: await typedLinkCode(code),
      expiresAt: created.expiresAt,
    },
    secrets: { keys, secret },
  };
}

/**
 * Step 3, on the new device: waits for the approval (polling), opens the envelope and checks it
 * names the account the server says. LINK_EXPIRED when the session ends first; an envelope that
 * does not open or does not match is INVALID_RESPONSE.
 */
export async function awaitApproval(
  api: ApiClient,
  pending: PendingLink,
  secrets: LinkSecrets,
  options: { signal?: AbortSignal; pollMs?: number } = {},
): Promise<{
  accountId: string;
  deviceId: string;
  credential: string;
  payload: ProvisioningPayload;
}> {
  for (;;) {
    if (options.signal?.aborted)
      throw new ParleyError('LINK_EXPIRED', { message: 'Linking was cancelled.' });
    let result: Awaited<ReturnType<ApiClient['linkResult']>>;
    try {
      result = await api.linkResult(pending.linkId);
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'LINK_NOT_FOUND') {
        throw new ParleyError('LINK_EXPIRED', { cause: error });
      }
      throw error;
    }
    if (result.status === 'approved') {
      const sealed = fromBase64Url(result.envelope);
      const opened = sealed && (await openProvisioning(sealed, secrets.keys));
      const payload = opened && parsePayload(opened);
      if (!payload || payload.accountId !== result.accountId) {
        throw new ParleyError('INVALID_RESPONSE', {
          message: 'The approval could not be opened with this device’s key; start linking again.',
          details: { reason: 'provisioning envelope' },
        });
      }
      return {
        accountId: result.accountId,
        deviceId: result.deviceId,
        credential: `${result.deviceId}.${secrets.secret}`,
        payload,
      };
    }
    await wait(options.pollMs ?? POLL_MS, options.signal);
  }
}

/**
 * Step 2a, on the approving device: reads a scanned QR text or a typed code, fetches the session
 * and checks its key against the code. LINK_CODE_INVALID for text that is neither, or a key the
 * code does not commit to (the server swapped it).
 */
export async function inspectLink(api: ApiClient, text: string): Promise<LinkRequestInfo> {
  const qr = parseLinkQrPayload(text.trim());
  const typed = qr ? undefined : parseTypedLinkCode(text);
  const handle = qr?.handle ?? typed?.handle;
  if (!handle) throw new ParleyError('LINK_CODE_INVALID', { details: { reason: 'unreadable' } });
  const request = await api.linkRequest(handle);
  const publicKey = fromBase64Url(request.publicKey);
  const matches = qr
    ? publicKey !== undefined && toBase64Url(qr.publicKey) === request.publicKey
    : publicKey !== undefined && (await typedCodeMatches(typed!, publicKey));
  if (!matches || !publicKey) {
    throw new ParleyError('LINK_CODE_INVALID', {
      details: { reason: 'key does not match the code' },
    });
  }
  return {
    handle,
    publicKey,
    deviceName: request.deviceName,
    createdAt: request.createdAt,
    expiresAt: request.expiresAt,
    via: qr ? 'qr' : 'typed',
  };
}

/** Step 2b, on the approving device: seals the payload to the checked key and approves. */
export async function approveLink(
  api: ApiClient,
  request: LinkRequestInfo,
  payload: ProvisioningPayload,
): Promise<{ accountId: string; deviceId: string }> {
  const sealed = await sealProvisioning(
    new TextEncoder().encode(JSON.stringify(payload)),
    request.publicKey,
  );
  return api.approveLink(request.handle, toBase64Url(sealed));
}

function parsePayload(bytes: Uint8Array): ProvisioningPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  const p = value as Partial<ProvisioningPayload> | null;
  if (
    p?.v !== 1 ||
    typeof p.accountId !== 'string' ||
    typeof p.identity?.publicKey !== 'string' ||
    typeof p.identity.secretKey !== 'string' ||
    typeof p.discoverable !== 'boolean' ||
    (p.presence !== 'nobody' && p.presence !== 'contacts') ||
    typeof p.pins !== 'object' ||
    p.pins === null
  ) {
    return undefined;
  }
  return p as ProvisioningPayload;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

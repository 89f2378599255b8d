/**
 * Signals: typing notices and read receipts, end-to-end encrypted and never stored. The server
 * relays them to the members' connected devices only. Each is sealed with AES-GCM under a key
 * exported from the group's current epoch (RFC 9420 §8.5); its 8-byte header (the epoch) is the
 * associated data, and a signal from another epoch is dropped, as signals are ephemeral.
 *
 * The key is the whole group's, so it only says "a member sent this". Who did is said by a
 * signature of the sending device's MLS signature key (the key in its leaf) over
 * (label, groupId, epoch, body); the receiver checks it against the leaf, in its current tree, of
 * the device the relayed frame names, and drops (with a SIGNAL_FORGED warning) what does not
 * verify — so neither another member nor the server (by rewriting `from`) can speak for a device.
 * A signal can still be replayed by the server within its epoch; it says nothing new then.
 *
 * Payload: epoch (8 bytes, big-endian) ‖ IV (12 bytes) ‖ AES-GCM ciphertext of
 * (signature length, 2 bytes ‖ signature ‖ JSON body).
 */

import { type DeviceRef, fromBase64Url, toBase64Url } from '@parley/core';
import type { Conversations } from './conversations.js';
import type { Lane } from './lane.js';
import type { SignatureKeys } from './mls.js';
import * as mls from './mls.js';
import {
  type MessengerEventSink,
  otherAccounts,
  type StoredConversation,
  type Wire,
} from './model.js';

/** Message ids one read receipt names at most. */
const READ_IDS_MAX = 100;
const HEADER = 8;
const IV = 12;
const LABEL = new TextEncoder().encode('parley signal v1');

type Body = { type: 'typing' } | { type: 'read'; ids: string[] };

export class Signals {
  private readonly keys = new Map<string, { epoch: number; key: CryptoKey }>();

  constructor(
    private readonly device: DeviceRef,
    private readonly lane: Lane,
    private readonly conversations: Conversations,
    private readonly wire: Wire,
    private readonly events: MessengerEventSink,
    private readonly signatureKeys: () => Promise<SignatureKeys>,
  ) {}

  typing(conversationId: string): Promise<void> {
    return this.send(conversationId, { type: 'typing' });
  }

  /** Tells the other members these messages were read. */
  markRead(conversationId: string, messageIds: string[]): Promise<void> {
    return this.send(conversationId, { type: 'read', ids: messageIds.slice(0, READ_IDS_MAX) });
  }

  /** Queues a relayed signal behind the entries before it (a read receipt may name them). */
  receive(groupId: string, from: DeviceRef, payload: string): Promise<void> {
    return this.lane.run(() => this.open(groupId, from, payload));
  }

  private async send(conversationId: string, body: Body): Promise<void> {
    const stored = await this.conversations.require(conversationId);
    const key = await this.keyFor(stored);
    const iv = crypto.getRandomValues(new Uint8Array(IV));
    const header = new Uint8Array(HEADER);
    new DataView(header.buffer).setBigUint64(0, BigInt(stored.epoch));
    const json = new TextEncoder().encode(JSON.stringify(body));
    const signature = await mls.sign(
      await this.signatureKeys(),
      toBeSigned(conversationId, header, json),
    );
    const inner = new Uint8Array(2 + signature.length + json.length);
    new DataView(inner.buffer).setUint16(0, signature.length);
    inner.set(signature, 2);
    inner.set(json, 2 + signature.length);
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: header }, key, inner),
    );
    const payload = new Uint8Array(HEADER + IV + sealed.length);
    payload.set(header, 0);
    payload.set(iv, HEADER);
    payload.set(sealed, HEADER + IV);
    this.wire.send({ t: 'signal', groupId: conversationId, payload: toBase64Url(payload) });
  }

  private async open(groupId: string, from: DeviceRef, b64: string): Promise<void> {
    const stored = await this.conversations.load(groupId);
    const decoded = fromBase64Url(b64);
    if (!stored || !decoded || decoded.length < HEADER + IV) return;
    const bytes = new Uint8Array(decoded);
    const header = bytes.slice(0, HEADER);
    // A signal from another epoch is simply dropped: it is ephemeral by design.
    if (new DataView(header.buffer, header.byteOffset).getBigUint64(0) !== BigInt(stored.epoch)) {
      return;
    }
    const key = await this.keyFor(stored);
    const forged = () =>
      this.events.emit('warning', {
        code: 'SIGNAL_FORGED',
        conversationId: groupId,
        detail: { claimed: from },
      });
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: bytes.slice(HEADER, HEADER + IV), additionalData: header },
          key,
          bytes.slice(HEADER + IV),
        ),
      );
    } catch {
      return forged();
    }
    const length = plain.length >= 2 ? new DataView(plain.buffer).getUint16(0) : plain.length;
    const signature = plain.slice(2, 2 + length);
    const json = plain.slice(2 + length);
    const state = await mls.decodeState(stored.state);
    if (
      plain.length < 2 + length ||
      !(await mls.verifyByLeaf(state, from, toBeSigned(groupId, header, json), signature))
    ) {
      return forged();
    }
    let body: { type?: unknown; ids?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(json)) as typeof body;
    } catch {
      return;
    }
    if (body.type === 'typing') this.events.emit('typing', { conversationId: groupId, from });
    if (body.type === 'read' && Array.isArray(body.ids)) {
      const others = otherAccounts(stored, this.device.accountId);
      for (const id of body.ids) {
        if (typeof id !== 'string') continue;
        const updated = await this.conversations.updateMessage(groupId, id, (m) => {
          if (m.from.deviceId !== this.device.deviceId) return;
          if (!m.readBy.includes(from.accountId)) m.readBy.push(from.accountId);
          if (others.every((a) => m.readBy.includes(a))) m.status = 'read';
        });
        if (updated) this.events.emit('status', updated);
      }
    }
  }

  private async keyFor(stored: StoredConversation): Promise<CryptoKey> {
    const cached = this.keys.get(stored.id);
    if (cached?.epoch === stored.epoch) return cached.key;
    const raw = await mls.signalKey(await mls.decodeState(stored.state));
    const key = await crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ]);
    this.keys.set(stored.id, { epoch: stored.epoch, key });
    return key;
  }
}

/** What a signal's signature covers: a label, the group, the epoch header and the body. */
function toBeSigned(groupId: string, header: Uint8Array, body: Uint8Array): Uint8Array {
  const group = new TextEncoder().encode(groupId);
  const out = new Uint8Array(LABEL.length + 1 + group.length + header.length + body.length);
  out.set(LABEL, 0);
  out[LABEL.length] = group.length;
  out.set(group, LABEL.length + 1);
  out.set(header, LABEL.length + 1 + group.length);
  out.set(body, LABEL.length + 1 + group.length + header.length);
  return out;
}

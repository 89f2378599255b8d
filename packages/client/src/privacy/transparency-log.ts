/**
 * The transparency log: one entry for every request that carried data off the device — when, to
 * which server, what kind, how many items, how many bytes, and whether it was blinded. The user
 * reads it to see that nothing else left.
 */

import type { ClientStore } from '../store/store.js';

export type UploadKind =
  | 'own-phone-number'
  | 'verification-code'
  | 'code-check'
  | 'account-settings'
  | 'blinded-contact-numbers'
  | 'blinded-rekey-elements'
  | 'match-lookup-tokens'
  | 'mls-key-packages'
  | 'conversation-members'
  | 'mls-commit'
  | 'device-certificate'
  | 'identity-key'
  | 'registration-lock'
  | 'link-request'
  | 'link-approval'
  | 'presence-allow-list'
  | 'attachment-ciphertext'
  | 'sealed-profile'
  | 'block'
  | 'spam-report'
  | 'push-subscription';

export interface UploadRecord {
  at: string;
  server: string;
  endpoint: string;
  kind: UploadKind;
  items: number;
  bytes: number;
  /** True when the items are blinded OPRF elements the server cannot link to any number. */
  blinded: boolean;
  description: string;
}

const KEY = 'transparencyLog';

export const UPLOAD_DESCRIPTIONS: Record<UploadKind, { blinded: boolean; description: string }> = {
  'own-phone-number': {
    blinded: false,
    description: 'Your own phone number, so the server can text you a verification code.',
  },
  'verification-code': {
    blinded: false,
    description: 'The verification code, your discoverability choice and this device’s name.',
  },
  'code-check': {
    blinded: false,
    description: 'The verification code alone, checked before the sign-up questions.',
  },
  'account-settings': { blinded: false, description: 'A change to your account settings.' },
  'blinded-contact-numbers': {
    blinded: true,
    description: 'Contacts’ numbers, each blinded with a fresh random key the server never sees.',
  },
  'blinded-rekey-elements': {
    blinded: true,
    description: 'Already-checked contacts, blinded again, to follow a server key rotation.',
  },
  'match-lookup-tokens': {
    blinded: false,
    description:
      'Tokens for contacts the filter matched: the server learns which of its users they are.',
  },
  'mls-key-packages': {
    blinded: false,
    description:
      'Public encryption keys of this device, so others can start conversations with it.',
  },
  'conversation-members': {
    blinded: false,
    description: 'The accounts you start a conversation with, to fetch their devices’ public keys.',
  },
  'presence-allow-list': {
    blinded: false,
    description:
      'Accounts added to or taken off the list of people who may see you online: contacts found in your address book and people you talk to.',
  },
  'attachment-ciphertext': {
    blinded: false,
    description:
      'A file you sent, encrypted on this device: the server gets its size and the conversation, never its name, type, content or key.',
  },
  'mls-commit': {
    blinded: false,
    description:
      'An encrypted change to a conversation; the server sees only which devices join or leave.',
  },
  'device-certificate': {
    blinded: false,
    description:
      'This device’s certificate: its public key, signed by your account’s identity key. No number, no name.',
  },
  'identity-key': {
    blinded: false,
    description: 'Your account’s public identity key (never its private half).',
  },
  'registration-lock': {
    blinded: false,
    description:
      'Your registration-lock PIN, over the encrypted connection; the server keeps only a slow hash of it.',
  },
  'push-subscription': {
    blinded: false,
    description:
      'The address your browser’s push service gave this device and the keys to encrypt wake-ups to it; no number, no name, no message.',
  },
  'link-request': {
    blinded: false,
    description:
      'A one-time public key and this device’s name, so a device of your account can link it.',
  },
  'link-approval': {
    blinded: false,
    description:
      'Your identity key, settings and chosen contacts, sealed to the new device’s key: the server cannot open it.',
  },
  'sealed-profile': {
    blinded: false,
    description:
      'Your profile name, sealed under your profile key: the server stores it and cannot open it.',
  },
  block: {
    blinded: false,
    description:
      'An account you block or unblock: the server refuses its messages and invitations to you.',
  },
  'spam-report': {
    blinded: false,
    description:
      'An account you reported as spam, and the messages only if you chose to attach them.',
  },
};

export class TransparencyLog {
  constructor(private readonly store: ClientStore) {}

  async record(entry: Omit<UploadRecord, 'at' | 'blinded' | 'description'>): Promise<void> {
    const entries = await this.list();
    entries.push({ at: new Date().toISOString(), ...entry, ...UPLOAD_DESCRIPTIONS[entry.kind] });
    await this.store.set(KEY, entries);
  }

  async list(): Promise<UploadRecord[]> {
    return (await this.store.get<UploadRecord[]>(KEY)) ?? [];
  }

  /** Erases the log (the account was deleted). */
  async clear(): Promise<void> {
    await this.store.delete(KEY);
  }
}

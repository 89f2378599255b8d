/**
 * What the messenger noticed about keys and devices while a command ran, said on stderr (stdout
 * stays the command's own output): security warnings, a contact's changed safety number, a
 * device newly linked to this account. Each line says what the person can do about it.
 */

import { type MessengerEvents, type SecurityWarning, securityWarningText } from '@parley/client';
import { short } from './people.js';

type Events = Pick<MessengerEvents, 'warning' | 'identity' | 'device-linked'>;

export function warningLine(w: SecurityWarning): string {
  // A warning about this account's own devices belongs to no conversation.
  const where = w.conversationId ? ` in ${short(w.conversationId)}` : '';
  return `parley: warning ${w.code}${where}: ${securityWarningText(w.code)}`;
}

export function identityLine(event: Events['identity']): string {
  const contact = `account:${event.accountId}`;
  const then = event.blocked
    ? `Sending to them is paused until you compare it again (parley safety-number ${contact} --verify) or accept it (--accept).`
    : `Compare it with them: parley safety-number ${contact}`;
  return `parley: ${short(event.accountId)}’s safety number changed. ${then}`;
}

export function deviceLinkedLine(event: Events['device-linked']): string {
  return `parley: new device linked to your account: "${event.name}" (device ${event.deviceId}, added ${event.createdAt}). If you did not link it, sign it out: parley devices remove ${event.deviceId}`;
}

/** Prints those events on `write` (one line each) for as long as the messenger runs. */
export function reportSecurityEvents(
  messenger: {
    on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void;
  },
  write: (line: string) => void,
  options: { deviceLinked?: boolean } = {},
): void {
  messenger.on('warning', (w) => write(warningLine(w)));
  messenger.on('identity', (e) => write(identityLine(e)));
  if (options.deviceLinked !== false) {
    messenger.on('device-linked', (e) => write(deviceLinkedLine(e)));
  }
}

/**
 * Membership notices: the history entries that show who changed a conversation's membership (and
 * who changed a setting every member shares: the disappearing-message timer, the group's name).
 * They are made only from what MLS says — the members before and after a Commit, read from the
 * ratchet trees, and the Commit's authenticated sender — never from the server's `leave` or
 * `removed` entries, so a member removed in silence is still shown to everyone.
 */

import type { DeviceRef, SettingEnvelope } from '@parley/core';
import { type ChatMessage, type MembershipNotice, randomId } from './model.js';

const same = (a: DeviceRef, b: DeviceRef) =>
  a.deviceId === b.deviceId && a.accountId === b.accountId;

/**
 * The notices for one change of members, in a fixed order (added, device-added, left, removed,
 * device-removed). `departures` holds the accounts that announced their leave in MLS: their
 * removal is shown as 'left'.
 */
export function membershipNotices(
  before: readonly DeviceRef[],
  after: readonly DeviceRef[],
  by: DeviceRef,
  departures: readonly string[] = [],
): MembershipNotice[] {
  const accountsBefore = new Set(before.map((m) => m.accountId));
  const accountsAfter = new Set(after.map((m) => m.accountId));
  const added = after.filter((m) => !before.some((b) => same(b, m)));
  const removed = before.filter((m) => !after.some((a) => same(a, m)));
  const notices: MembershipNotice[] = [];
  const push = (change: MembershipNotice['change'], devices: DeviceRef[]) => {
    if (devices.length === 0) return;
    const accounts = [...new Set(devices.map((d) => d.accountId))];
    notices.push({ change, by, accounts, devices: devices.map(ref) });
  };
  push(
    'added',
    added.filter((m) => !accountsBefore.has(m.accountId)),
  );
  push(
    'device-added',
    added.filter((m) => accountsBefore.has(m.accountId)),
  );
  const gone = removed.filter((m) => !accountsAfter.has(m.accountId));
  push(
    'left',
    gone.filter((m) => departures.includes(m.accountId)),
  );
  push(
    'removed',
    gone.filter((m) => !departures.includes(m.accountId)),
  );
  push(
    'device-removed',
    removed.filter((m) => accountsAfter.has(m.accountId)),
  );
  return notices;
}

/** A notice as a history entry. */
export function noticeMessage(conversationId: string, notice: MembershipNotice): ChatMessage {
  return {
    id: randomId(),
    conversationId,
    from: notice.by,
    kind: 'notice',
    text: '',
    notice,
    sentAt: new Date().toISOString(),
    status: 'received',
    deliveredTo: [],
    readBy: [],
  };
}

/**
 * A notice in words, with names from `nameOf` (e.g. the contact's name, "you", or "someone"):
 * "Carol removed Alice", "Alice left", "A device of Bob was added".
 */
export function describeNotice(
  notice: MembershipNotice,
  nameOf: (accountId: string) => string,
): string {
  const who = notice.accounts.map(nameOf).join(', ');
  const by = notice.by.accountId ? nameOf(notice.by.accountId) : 'someone';
  const whose = who === 'you' ? 'yours' : who;
  const sentence = {
    added: `${by} added ${who}`,
    removed: `${by} removed ${who}`,
    left: `${who} left`,
    'device-added':
      notice.accounts.length === 1 && notice.accounts[0] === notice.by.accountId
        ? `${by} linked a new device`
        : `a device of ${whose} was added`,
    'device-removed': `a device of ${whose} was removed`,
    'identity-changed': `${who === 'you' ? 'your' : `${who}’s`} safety number changed`,
    timer: notice.seconds
      ? `${by} set disappearing messages to ${timerText(notice.seconds)}`
      : `${by} turned off disappearing messages`,
    named: notice.name ? `${by} named the group “${notice.name}”` : `${by} removed the group name`,
  }[notice.change];
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

const ref = ({ accountId, deviceId }: DeviceRef): DeviceRef => ({ accountId, deviceId });

const UNITS: Array<[seconds: number, one: string]> = [
  [7 * 24 * 3600, 'week'],
  [24 * 3600, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** A timer in words: "30 seconds", "1 hour", "4 weeks" (the largest unit that divides it). */
export function timerText(seconds: number): string {
  const [unit, name] = UNITS.find(([u]) => seconds % u === 0) ?? [1, 'second'];
  const n = seconds / unit;
  return `${n} ${name}${n === 1 ? '' : 's'}`;
}

/** The notice a setting's envelope (`timer`, `group-name`) leaves in the history. */
export function settingNotice(by: DeviceRef, envelope: SettingEnvelope): MembershipNotice {
  const base = { by: ref(by), accounts: [], devices: [] };
  return envelope.type === 'timer'
    ? { ...base, change: 'timer', seconds: envelope.seconds }
    : { ...base, change: 'named', name: envelope.name };
}

/** Whether two versions of a conversation have the same shared settings. */
export const sameSettings = (
  a: { timer?: number; name?: string },
  b: { timer?: number; name?: string },
): boolean => (a.timer ?? 0) === (b.timer ?? 0) && (a.name ?? '') === (b.name ?? '');

/** The conversation with the setting applied. */
export function withSetting<C extends { timer?: number; name?: string }>(
  conversation: C,
  envelope: SettingEnvelope,
): C {
  return envelope.type === 'timer'
    ? { ...conversation, timer: envelope.seconds }
    : { ...conversation, name: envelope.name };
}

/**
 * `parley safety-number CONTACT`: the 60 digits shared with a contact (docs/design.md, "Safety
 * numbers"), equal on both sides, to compare in person or on a call; `--verify` records that
 * they matched (with `--scanned`, compares the contact's scannable code instead of the eyes),
 * `--accept` takes a verified contact's changed key without comparing, `--unverify` drops the mark.
 */

import type { ParleyClient } from '@parley/client';
import { UsageError } from '../usage.js';
import { textQr } from './output.js';
import { resolvePerson } from './people.js';

type SafetyNumber = Awaited<ReturnType<ParleyClient['safetyNumber']>>;

export interface SafetyNumberArgs {
  client: Pick<
    ParleyClient,
    | 'resolveContact'
    | 'safetyNumber'
    | 'verifySafetyNumber'
    | 'unverifySafetyNumber'
    | 'acceptSafetyNumber'
  >;
  positionals: string[];
  values: {
    verify?: boolean;
    scanned?: string;
    accept?: boolean;
    unverify?: boolean;
    json?: boolean;
  };
  out: (text: string) => void;
  drawQr: boolean;
}

/** The 12 groups of 5 in three rows of four, as people read them out. */
export function digitRows(groups: readonly string[]): string[] {
  const rows: string[] = [];
  for (let i = 0; i < groups.length; i += 4) rows.push(groups.slice(i, i + 4).join(' '));
  return rows;
}

/** What the number's state means and what to do about it. */
export function stateLine(n: SafetyNumber, contact: string): string {
  if (n.blocked) {
    return `Changed${n.changedAt ? ` on ${n.changedAt}` : ''}, and you had verified the old one: sending to them is paused. Compare again and run parley safety-number ${contact} --verify, or take the new key without comparing: --accept.`;
  }
  if (n.verified) return 'Verified: you compared this number with them.';
  const changed = n.changedAt ? `Changed on ${n.changedAt}. ` : '';
  return `${changed}Not verified. Compare the digits with theirs (in person or on a call you trust); if they match, run parley safety-number ${contact} --verify.`;
}

export async function safetyNumberCommand(args: SafetyNumberArgs): Promise<number> {
  const { client, positionals, values, out } = args;
  const contact = positionals[0];
  if (!contact || positionals.length > 1) {
    throw new UsageError(
      'safety-number needs one contact: a phone number, account:ID or an account id',
    );
  }
  const actions = [values.verify, values.accept, values.unverify].filter(Boolean).length;
  if (actions > 1) throw new UsageError('choose one of --verify, --accept and --unverify');
  if (values.scanned !== undefined && !values.verify) {
    throw new UsageError("--scanned goes with --verify: it is the contact's scanned code");
  }
  const person = await resolvePerson(client, contact);
  if ('notOnParley' in person) {
    throw new UsageError(`${contact} is not on Parley: there is no safety number to compare`);
  }
  const { accountId } = person;
  const number = values.verify
    ? await client.verifySafetyNumber(accountId, values.scanned)
    : values.accept
      ? await client.acceptSafetyNumber(accountId)
      : values.unverify
        ? await client.unverifySafetyNumber(accountId)
        : await client.safetyNumber(accountId);
  if (values.json) {
    out(JSON.stringify(number));
    return 0;
  }
  const shown = `account:${accountId}`;
  if (values.verify) {
    out(
      values.scanned !== undefined
        ? `Their code matches: ${shown} is marked verified.`
        : `${shown} is marked verified.`,
    );
  } else if (values.accept) {
    out(`The new key of ${shown} is accepted (not verified); sending to them resumes.`);
  } else if (values.unverify) {
    out(`${shown} is no longer marked verified.`);
  }
  out(`Safety number with ${shown}:`);
  for (const row of digitRows(number.groups)) out(`  ${row}`);
  out(stateLine(number, shown));
  out(`Their side can check it from this code: ${number.scannable}`);
  if (args.drawQr) out(textQr(number.scannable));
  return 0;
}

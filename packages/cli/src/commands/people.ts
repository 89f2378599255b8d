/**
 * Who a command is about. The CLI knows no names: a person is given as a phone number (resolved
 * through blind discovery, with the address-book consent), as `account:<id>`, or as a bare account
 * id, and shown by the first characters of the account id.
 */

import type { ParleyClient } from '@parley/client';
import { UsageError } from '../usage.js';

const ACCOUNT = /^[A-Za-z0-9_-]{8,64}$/;
/** An account id as the server makes them: 22 base64url characters, not all digits. */
const BARE_ACCOUNT = /^(?!\d+$)[A-Za-z0-9_-]{22}$/;

/** How the CLI shows an account or a conversation: the first 8 characters of its id. */
export const short = (id: string): string => id.slice(0, 8);

/** A bare account id or `account:<id>`; undefined when `contact` is neither (a phone number). */
export function accountIdOf(contact: string): string | undefined {
  if (contact.startsWith('account:')) {
    const id = contact.slice('account:'.length);
    if (!ACCOUNT.test(id)) throw new UsageError(`'${contact}' is not an account id`);
    return id;
  }
  return BARE_ACCOUNT.test(contact) ? contact : undefined;
}

/**
 * A contact given as a phone number is resolved through discovery (blinded, budgeted, and only
 * with the address-book consent); an account id names an account directly.
 */
export async function resolvePerson(
  client: Pick<ParleyClient, 'resolveContact'>,
  contact: string,
): Promise<{ accountId: string } | { notOnParley: string }> {
  const id = accountIdOf(contact);
  if (id) return { accountId: id };
  const found = await client.resolveContact(contact);
  if (found.status === 'on-parley' && found.accountId) return { accountId: found.accountId };
  return { notOnParley: found.phoneNumber };
}

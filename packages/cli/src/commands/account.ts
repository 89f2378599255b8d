/**
 * The account from the terminal: registering a number (with its registration lock, and the new
 * identity that an SMS-only registration of a used number starts), the account's settings, the
 * registration lock, and deleting the account.
 */

import type { ParleyClient } from '@parley/client';
import { ParleyError } from '@parley/core';
import { presenceOf, UsageError, yesNo } from '../usage.js';
import { readLine, readSecret } from './prompt.js';

export interface AccountValues {
  discoverable?: string;
  presence?: string;
  name?: string;
  code?: string;
  /** A verification already sent (its id), to try its code again without another SMS. */
  verification?: string;
  pin?: string;
  json?: boolean;
  yes?: boolean;
  /** The name people see in conversations (sealed: the server cannot read it). */
  'profile-name'?: string;
}

interface Io {
  out: (text: string) => void;
  note: (text: string) => void;
  /** Asks for a PIN without echo; undefined where nobody can be asked (no terminal). */
  askPin?: (prompt: string) => Promise<string>;
  /** Asks for the SMS code again after a wrong one; undefined where nobody can be asked. */
  askCode?: (prompt: string) => Promise<string>;
}

/** What the server takes as a registration-lock PIN (RegistrationLockPin in core's schemas). */
export function checkPin(pin: string, flag = '--pin'): string {
  if (pin.length < 4 || pin.length > 64) {
    throw new UsageError(`${flag} must be 4 to 64 characters (got ${pin.length})`);
  }
  return pin;
}

/** The lock's state from REGISTRATION_LOCKED details, for people. */
function lockState(error: ParleyError): string {
  const d = (error.details ?? {}) as { attemptsLeft?: unknown; unlocksAt?: unknown };
  const parts = [
    typeof d.attemptsLeft === 'number'
      ? `${d.attemptsLeft} wrong PINs allowed before it refuses`
      : '',
    typeof d.unlocksAt === 'string' ? `the lock lapses at ${d.unlocksAt}` : '',
  ].filter(Boolean);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

export async function registerCommand(
  client: Pick<ParleyClient, 'requestCode' | 'register'>,
  positionals: string[],
  values: AccountValues,
  io: Io,
): Promise<number> {
  const number = positionals[0];
  if (!number) throw new UsageError('register needs your phone number, e.g. +14155550123');
  const discoverable = yesNo(values.discoverable, '--discoverable');
  const presence = presenceOf(values.presence);
  let pin = values.pin === undefined ? undefined : checkPin(values.pin);
  let verificationId = values.verification;
  let codeLength = 6;
  if (verificationId === undefined) {
    ({ verificationId, codeLength } = await client.requestCode(number));
  }
  const prompt = `Enter the ${codeLength}-digit code sent by SMS: `;
  let code = values.code ?? (await readLine(prompt, 'no code given'));
  let result: Awaited<ReturnType<ParleyClient['register']>>;
  for (;;) {
    try {
      result = await client.register({
        verificationId,
        code,
        discoverable,
        presence,
        deviceName: values.name ?? 'terminal',
        ...(pin !== undefined ? { registrationLockPin: pin } : {}),
        ...(values['profile-name'] !== undefined ? { profileName: values['profile-name'] } : {}),
      });
      break;
    } catch (error) {
      if (error instanceof ParleyError && error.code === 'VERIFICATION_CODE_INCORRECT') {
        // The server keeps the verification until its attempts run out: the same code stays
        // valid, so a typo costs no SMS.
        const left = (error.details as { attemptsLeft?: unknown } | undefined)?.attemptsLeft;
        const tries =
          typeof left === 'number' ? ` (${left} ${left === 1 ? 'try' : 'tries'} left)` : '';
        if (!io.askCode) {
          throw new ParleyError('VERIFICATION_CODE_INCORRECT', {
            message: `That code is not right${tries}. The code sent stays valid: try again without another SMS with parley register ${number} --verification ${verificationId} --code CODE (and the same --discoverable and --presence).`,
            details: { ...(error.details as object), verificationId },
            cause: error,
          });
        }
        io.note(`That code is not right${tries}.`);
        code = await io.askCode(prompt);
        continue;
      }
      if (!(error instanceof ParleyError) || error.code !== 'REGISTRATION_LOCKED') throw error;
      const why =
        pin === undefined ? 'This number’s account has a registration lock.' : 'Wrong PIN.';
      if (!io.askPin) {
        throw new ParleyError('REGISTRATION_LOCKED', {
          message: `${why} Give its PIN with --pin${lockState(error)}.`,
          details: error.details,
          cause: error,
        });
      }
      io.note(`${why}${lockState(error)}`);
      // The verification stays valid: only the PIN is asked again.
      pin = checkPin(await io.askPin('Registration lock PIN: '), 'the PIN');
    }
  }
  if (values.json) {
    io.out(
      JSON.stringify({
        accountId: result.accountId,
        deviceId: result.deviceId,
        discoverable,
        presence,
        existingAccount: result.existingAccount,
      }),
    );
    return 0;
  }
  io.out(
    `Registered: account ${result.accountId}, device ${result.deviceId}. People who have your number ${discoverable ? 'can' : 'cannot'} find you; ${presence === 'contacts' ? 'people who have your number and found you' : 'nobody'} can see when you are online.`,
  );
  if (result.existingAccount) {
    io.out(
      'This number had a Parley account: its devices were signed out and this device starts a new identity. Your contacts will see that your safety number changed; nothing of the old devices (conversations, contacts) is here.',
    );
  }
  return 0;
}

type AccountClient = Pick<
  ParleyClient,
  | 'account'
  | 'deleteAccount'
  | 'updateAccount'
  | 'getAccount'
  | 'setRegistrationLock'
  | 'clearRegistrationLock'
>;

export async function accountCommand(
  client: AccountClient,
  positionals: string[],
  values: AccountValues,
  io: Io,
): Promise<number> {
  const { out } = io;
  const action = positionals[0];
  if (action === 'delete') {
    if (!values.yes) {
      throw new UsageError(
        'account delete erases the account on the server, with all its devices, and everything of it on this device; nothing can be recovered. Add --yes to do it.',
      );
    }
    const { accountId } = client.account ?? {};
    await client.deleteAccount();
    out(
      `Account ${accountId} deleted: the server holds nothing of it, and this device's Parley data was erased.`,
    );
    return 0;
  }
  if (action === 'lock') {
    const given = values.pin ?? (io.askPin ? await io.askPin('New registration lock PIN: ') : '');
    if (!given) throw new UsageError('account lock needs a PIN: --pin PIN (4 to 64 characters)');
    await client.setRegistrationLock(checkPin(given));
    out(
      'Registration lock on: registering your number again by SMS code alone is refused while your devices are in use, unless the PIN is given. Keep the PIN somewhere safe. It stops someone who takes over your number; it does not stop the server operator (docs/security.md).',
    );
    return 0;
  }
  if (action === 'unlock') {
    await client.clearRegistrationLock();
    out(
      'Registration lock off: anyone who receives an SMS code for your number can register it again (as a new identity; your contacts are told).',
    );
    return 0;
  }
  if (action !== undefined) {
    throw new UsageError(`unknown account action '${action}' (delete, lock, unlock)`);
  }
  if (values.pin !== undefined) throw new UsageError('--pin goes with account lock');
  const change = {
    ...(values.discoverable !== undefined
      ? { discoverable: yesNo(values.discoverable, '--discoverable') }
      : {}),
    ...(values.presence !== undefined ? { presence: presenceOf(values.presence) } : {}),
  };
  const account =
    Object.keys(change).length > 0 ? await client.updateAccount(change) : await client.getAccount();
  out(
    values.json
      ? JSON.stringify(account)
      : `Account ${account.accountId}: ${account.discoverable ? 'discoverable' : 'not discoverable'} by people who have your number; online status shown to ${account.presence === 'contacts' ? 'people who found you' : 'nobody'}; registration lock ${account.registrationLock ? 'on' : 'off'}; ${account.devices.length} device(s).`,
  );
  return 0;
}

/** readSecret where there is a terminal to ask on; nothing otherwise (scripts give --pin). */
export function pinPrompt(): Io['askPin'] {
  return process.stdin.isTTY ? readSecret : undefined;
}

/** Asks for the SMS code again, at a terminal only. */
export function codePrompt(): Io['askCode'] {
  return process.stdin.isTTY ? (prompt) => readLine(prompt, 'no code given') : undefined;
}

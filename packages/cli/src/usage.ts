/** The help text, and argument parsing shared by the commands (node:util parseArgs, strict). */

import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {}

/** `parley help`. */
export const HELP = `parley — private contact discovery and messaging

Server
  parley serve                         start the server (configured by PARLEY_* variables)
  parley admin rotate-key              rotate the OPRF key of the running server
  parley admin stats                   counts and state of the running server
  parley admin reports [--json]        spam reports: the account, when, and messages only
                                       where the reporter chose to attach them
      --server URL (default $PARLEY_CLI_SERVER, else http://127.0.0.1:8787)
      --token TOKEN (or $PARLEY_ADMIN_TOKEN; needed for a server on another machine)
      --data DIR (default ./data): a local server's data directory, to read its token
  parley admin backup --out FILE --keys-out KEYFILE [--data DIR]
                                       back up the SQLite database while the server runs
                                       (--out) and seal the key files with a passphrase
                                       (--keys-out; keep KEYFILE apart from FILE). The
                                       passphrase: $PARLEY_BACKUP_PASSPHRASE_FILE, else
                                       $PARLEY_BACKUP_PASSPHRASE, else asked. On PostgreSQL:
                                       pg_dump for the database, --keys-out alone
  parley admin restore --from FILE --keys KEYFILE [--data DIR] [--force]
                                       bring a stopped data directory back from a backup
                                       (refuses a directory in use; --force replaces a
                                       non-empty one)
  parley admin migrate [--dry-run] [--json]
                                       run the pending schema migrations (--dry-run: list
                                       them, change nothing)

Client (state in the directory --state DIR, default ~/.parley)
  parley register NUMBER --discoverable yes|no --presence nobody|contacts
                       [--profile-name NAME] [--name DEVICE] [--code CODE] [--pin PIN]
                       [--server URL] [--verification ID]
                                       a number that had an account starts a new identity
                                       (its devices are signed out); --pin for a locked one;
                                       a wrong code is asked again at a terminal, else retry
                                       with --verification ID --code CODE (no new SMS);
                                       --profile-name: the name people you message see
                                       (sealed: the server cannot read it)
  parley link [--name DEVICE] [--json] on a new device: show a QR code and a code to approve
                                       from a device of your account; waits (Ctrl-C cancels)
  parley consent show|grant|withdraw
  parley import FILE [--region US]     import a vCard (.vcf) or CSV contacts export
  parley add NAME NUMBER               add one contact by hand
  parley discover [--json] [--lazy] [--all]
                                       find which contacts are on Parley (--all: everyone)
  parley log [--json]                  the transparency log: every upload made
  parley account [--discoverable yes|no] [--presence nobody|contacts]
  parley account delete --yes          delete the account everywhere and erase this device's data
  parley account lock [--pin PIN]      registration lock: registering your number again by SMS
                                       code alone needs this PIN (asked if not given)
  parley account unlock                turn the registration lock off
  parley devices [--json]              the account's devices, and whether each one's
                                       certificate chains to your identity key
  parley devices approve CODE [--yes] [--bring-contacts]
                                       link the new device showing CODE (or its QR text): it
                                       gets your identity and joins your conversations
  parley devices remove ID             sign a device out (this one too: its data is erased)
  parley devices sign-out-others       sign out every device but this one (a lost phone)
  parley export [--out FILE]           everything about you as JSON (no credential, no keys)

Messages (end-to-end encrypted; CONTACT is a phone number, account:ID or an account id)
  parley send CONTACT TEXT [--app-url URL]
                                       send; for someone not on Parley, print an sms: link
  parley send --conversation ID TEXT   send to a conversation or group
      --reply-to MESSAGE_ID            send as a reply quoting that message
  parley react MESSAGE_ID EMOJI        react with one emoji ("" takes your reaction back)
  parley edit MESSAGE_ID TEXT          change your message's text (within 24 hours)
  parley unsend MESSAGE_ID             delete your message for everyone (within 24 hours)
                                       (an id starting with '-' goes after --:
                                       parley react -- -Xy1 👍; ids are in listen --json)
  parley timer --conversation ID SECONDS|off
                                       disappearing messages: what is sent from now on
                                       disappears that long after it is read
  parley send CONTACT --file PATH [--caption TEXT]
                                       send a file, end to end encrypted (also with
                                       --conversation ID); the server never sees its name
  parley group create CONTACT...       start a group
  parley group --conversation ID name TEXT | add CONTACT... | remove CONTACT... | leave
                                       name the group ("" removes the name), add or remove
                                       people, or leave; every member sees each change
  parley listen [--count N] [--timeout S] [--json] [--save DIR]
                                       print messages as they arrive, with membership
                                       notices, reactions, edits and deletes (none
                                       counted by --count); security
                                       warnings, changed safety numbers and newly linked
                                       devices on stderr; --save DIR fetches each file
                                       that arrives into DIR
  parley conversations [--json]        list conversations
  parley profile [set NAME]            show or change your profile name; it goes to the
                                       people you message (sealed; the server cannot read it)
  parley requests [--json]             conversations started by people not in your contacts
  parley requests accept|delete|block ID
                                       answer one (ID: its first characters will do); until
                                       accepted they get no read receipt, typing or presence
  parley requests report ID [--attach] report its sender as spam (--attach: with the
                                       messages they sent; otherwise only the account id)
  parley block CONTACT                 the server refuses their messages and invitations to you
  parley unblock CONTACT
  Senders not in your contacts show as ~NAME, the profile name they chose.
  parley safety-number CONTACT [--json]
                                       the 60 digits to compare with CONTACT, and whether
                                       they are verified or changed
      --verify [--scanned CODE]        mark verified after comparing (CODE: their side's code)
      --accept                         accept a verified contact's changed key; sending resumes
      --unverify                       drop the verified mark
`;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parley's ids (accounts, devices, conversations) are 22 base64url characters, and one in 64
 * begins with '-'. Such an argument is an id, never a cluster of short options, so it is kept
 * apart from option parsing: `parley devices remove -AbC…` works as typed.
 */
const DASH_ID = /^-[A-Za-z0-9_-]{21}$/;
const HIDDEN = '\u0000id:';

type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

export function parse<T extends Options>(args: string[], options: T): Parsed<T> {
  const ids: string[] = [];
  const hidden = args.map((arg) => (DASH_ID.test(arg) ? `${HIDDEN}${ids.push(arg) - 1}` : arg));
  const reveal = (value: unknown): unknown =>
    typeof value === 'string' && value.startsWith(HIDDEN)
      ? ids[Number(value.slice(HIDDEN.length))]
      : Array.isArray(value)
        ? value.map(reveal)
        : value;
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({ args: hidden, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([name, value]) => [name, reveal(value)]),
  ) as Parsed<T>['values'];
  const positionals = parsed.positionals.map((p) => reveal(p) as string);
  return { ...parsed, values, positionals };
}

export function yesNo(value: string | undefined, flag: string): boolean {
  if (value === 'yes') return true;
  if (value === 'no') return false;
  throw new UsageError(
    `${flag} must be 'yes' or 'no'${value === undefined ? ' (it has no default: choose)' : ''}`,
  );
}

/** `--presence`: who sees when this user is online. Required where it is asked: no default. */
export function presenceOf(value: string | undefined): 'nobody' | 'contacts' {
  if (value === 'nobody' || value === 'contacts') return value;
  throw new UsageError(
    `--presence must be 'nobody' or 'contacts' (people who have your number and found you)${value === undefined ? '; choose one' : ` (got '${value}')`}.`,
  );
}

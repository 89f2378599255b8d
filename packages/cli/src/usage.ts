/** Argument parsing shared by the commands (node:util parseArgs, strict). */

import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {}

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

/** Argument parsing shared by the commands (node:util parseArgs, strict). */

import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<T extends Options>(
  args: string[],
  options: T,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
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

/**
 * Questions at the terminal: a line (a code), a secret (a PIN, not echoed) and a yes/no
 * confirmation. Prompts go to stderr, so stdout stays what a script reads.
 */

import { createInterface } from 'node:readline';
import { UsageError } from '../usage.js';

/** Reads one line from stdin; a usage error naming `what` when stdin ends first. */
export async function readLine(prompt: string, what = 'no answer given'): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise<string>((resolveLine, reject) => {
      rl.question(prompt, (answer) => resolveLine(answer.trim()));
      rl.once('close', () => reject(new UsageError(`${what} (stdin closed)`)));
    });
  } finally {
    rl.close();
  }
}

/**
 * Reads a secret from the terminal without echoing it. Only on a terminal: elsewhere the caller
 * asks for the option instead (a PIN piped in would sit in a script anyway).
 */
export function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.reject(new UsageError('no terminal to ask for the PIN on'));
  // Echo off before the prompt shows: what is typed as soon as it appears is not echoed either.
  input.setRawMode(true);
  process.stderr.write(prompt);
  input.resume();
  input.setEncoding('utf8');
  let typed = '';
  return new Promise<string>((resolveSecret, reject) => {
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolveSecret(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') {
          return finish(new UsageError('cancelled'));
        }
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on('data', onData);
  });
}

/** Asks a yes/no question; only "y" or "yes" is yes. Stdin closed: a usage error naming `flag`. */
export async function confirm(question: string, flag = '--yes'): Promise<boolean> {
  const answer = await readLine(
    `${question} [y/N] `,
    `not confirmed: answer at a terminal or add ${flag}`,
  );
  return /^y(es)?$/i.test(answer);
}

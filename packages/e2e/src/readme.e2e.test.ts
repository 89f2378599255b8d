/**
 * The README's terminal walk-through, read from its fenced blocks (so the test follows the
 * README): its setup lines work in a plain script (a function, not an alias, which scripts do not
 * expand), the state goes outside the clone, the sample address book ships, and the whole
 * walk-through runs as one script, as written, against a real `parley serve` on a free port that
 * the CLI is pointed at the README's way (PARLEY_CLI_SERVER). Where it asks, the test answers as a
 * person at the terminal would: the code the server printed, then "y".
 */

import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from './harness/server-process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The `sh` blocks of the README's "Try it from a terminal" section, each as its lines. */
function walkThroughBlocks(): string[][] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Try it from a terminal');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!.split('\n').filter((l) => l.trim() !== ''),
  );
  assert.ok(blocks.length > 0, 'the README has the walk-through block');
  return blocks;
}

/** A line without its comment. */
const command = (line: string): string => line.replace(/\s+#.*$/, '').trim();

interface Step {
  line: string;
  stdout: string;
  stderr: string;
}

/** What a script printed, split at the markers written before each of its lines. */
interface ScriptRun {
  code: number | null;
  steps: Step[];
  stderr: string;
}

describe("the README's CLI walk-through", () => {
  const [main = [], ...others] = walkThroughBlocks();
  const lines = [main, ...others].flat().map(command);
  const setup = main.filter((l) => !command(l).startsWith('parley '));

  it('defines `parley` so that a script can run it, with the state outside the clone', () => {
    const home = mkdtempSync(join(tmpdir(), 'parley-readme-'));
    const script = [...setup, 'parley help | head -1', 'echo "$S"'].join('\n');
    const out = execFileSync('sh', ['-c', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: home },
      encoding: 'utf8',
    });
    assert.match(out, /^parley — private contact discovery and messaging\n/);
    assert.equal(out.trim().split('\n').at(-1), join(home, '.local/state/parley'));
  });

  it('imports a sample address book that ships with the repo', () => {
    const imports = lines.filter((l) => l.startsWith('parley import '));
    assert.equal(imports.length, 1);
    const file = imports[0]!.split(/\s+/)[2]!;
    assert.ok(existsSync(join(ROOT, file)), `${file} ships`);
    assert.match(readFileSync(join(ROOT, file), 'utf8'), /^BEGIN:VCARD\r?\n/);
  });

  describe('run as a script against a real server', () => {
    let server: ServerProcess;
    const home = mkdtempSync(join(tmpdir(), 'parley-readme-'));
    const state = join(home, '.local/state/parley');
    /** The environment of a person who started the server with PARLEY_PORT and points the CLI there. */
    const env = () => ({
      PATH: process.env.PATH ?? '',
      HOME: home,
      PARLEY_CLI_SERVER: server.url,
      PARLEY_DATA_DIR: server.dataDir,
    });

    /**
     * Runs `script` in `sh -e` from the clone's root, each of `steps` after a marker (so what each
     * printed can be told apart). A code prompt is answered with the code the server printed
     * last, a yes/no question with "y"; `onStdout` sees what it prints as it prints it.
     */
    const run = (
      prelude: string[],
      steps: string[],
      onStdout?: (stdout: string) => void,
    ): Promise<ScriptRun> => {
      const marker = (i: number) => `@@step ${i}@@`;
      const script = [
        'set -e',
        ...prelude,
        ...steps.flatMap((line, i) => [`echo '${marker(i)}'; echo '${marker(i)}' >&2`, line]),
      ].join('\n');
      return new Promise((resolve, reject) => {
        const child = spawn('sh', ['-c', script], { cwd: ROOT, env: env() });
        let stdout = '';
        let stderr = '';
        let answered = 0;
        child.stdout.on('data', (d) => {
          stdout += d;
          onStdout?.(stdout);
        });
        child.stderr.on('data', async (d) => {
          stderr += d;
          const asked = [...stderr.matchAll(/Enter the 6-digit code|\[y\/N\] /g)];
          while (answered < asked.length) {
            const question = asked[answered++]![0];
            if (question === '[y/N] ') child.stdin.write('y\n');
            else {
              const ids = [...server.output.matchAll(/for verification (\S+)/g)];
              child.stdin.write(`${await server.codeFor(ids.at(-1)![1]!)}\n`);
            }
          }
        });
        // A safety net, not a timing: a line that waits for ever (listen without --count) is named.
        const hung = setTimeout(() => {
          const at = stdout.match(/@@step (\d+)@@/g)?.length ?? 0;
          child.kill('SIGKILL');
          reject(new Error(`the script did not finish; it waits at: ${steps[at - 1]}`));
        }, 300_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(hung);
          const split = (text: string) => text.split(/@@step \d+@@\n/).slice(1);
          const outs = split(stdout);
          const errs = split(stderr);
          resolve({
            code,
            stderr,
            steps: steps.map((line, i) => ({
              line,
              stdout: outs[i] ?? '',
              stderr: errs[i] ?? '',
            })),
          });
        });
      });
    };

    before(async () => {
      server = await ServerProcess.start();
    });
    after(() => server?.stop());

    it('every line of the walk-through works as written, and each says what a reader expects', async () => {
      const steps = main.filter((l) => command(l).startsWith('parley '));
      const ran = await run(setup, steps);
      const failed = ran.steps.at(-1)!;
      assert.equal(ran.code, 0, `stopped at: ${failed.line}\n${failed.stdout}\n${ran.stderr}`);

      /** What the line starting with `start` printed (every line the test checks must be there). */
      const printed = (start: string): Step => {
        const step = ran.steps.find((s) => command(s.line).startsWith(start));
        assert.ok(step, `the README runs \`${start} …\``);
        return step;
      };
      const registered = (number: string) => {
        const shown = /^Registered: account (\S+), device/m.exec(
          printed(`parley register ${number}`).stdout,
        );
        assert.ok(shown, `${number} is registered`);
        return shown[1]!;
      };
      registered('+14155550123');
      const bob = registered('+14155550124');
      const consent = printed('parley consent grant');
      assert.match(consent.stdout, /What leaves this device:/);
      assert.match(consent.stderr, /Agree to this\? \[y\/N\]/);
      assert.match(consent.stdout, /Consent recorded/);
      assert.equal(
        printed('parley import docs/examples/contacts.vcf').stdout,
        'Imported 3 contacts from 3 entries (vcard).\n',
      );
      const discovered = printed('parley discover').stdout;
      assert.match(discovered, /^Alice Example\s+\+14155550123\s+free messages$/m);
      assert.match(discovered, /^On Parley: 1 of 3 numbers\./m);
      assert.match(printed('parley log').stdout, /blinded-contact-numbers\s+3\s+\d+\s+yes/);
      assert.match(printed('parley send +14155550123').stdout, /^Sent \(\w+\) in conversation /);
      // Alice has not imported Bob (and the server knows no numbers): the profile name he chose,
      // marked ~ (not in her contacts), and his words.
      const heard = printed('parley listen').stdout;
      assert.match(heard, /^\[\S+\] ~Bob: Hi Alice$/m);
      assert.match(printed('parley requests').stdout, /~Bob\s+1\s+Hi Alice$/m);
      assert.match(printed('parley conversations').stdout, /\s1\s+1\s+Hi Alice \(received\)$/m);
      assert.match(printed('parley safety-number').stdout, /^ {2}\d{5}(?: \d{5}){3}$/m);
      assert.match(printed('parley consent withdraw').stdout, /^Consent withdrawn/);
      assert.match(
        printed('parley export').stdout,
        /^Exported to .*bob\.json: 0 contacts, 1 conversation, \d+ uploads\.$/m,
      );
      const exported = JSON.parse(readFileSync(join(state, 'bob.json'), 'utf8')) as {
        conversations: unknown[];
      };
      assert.equal(exported.conversations.length, 1);
      assert.match(printed('parley devices').stdout, /\bterminal\b.*\(this device\)$/m);
      assert.match(printed('parley account lock').stdout, /^Registration lock on/);
      assert.match(printed('parley account delete').stdout, new RegExp(`^Account ${bob} deleted`));
      assert.match(
        printed('parley admin rotate-key').stdout,
        /^Rotated OPRF key \S+ → \S+: 1 account re-keyed/,
      );
      // Bob's account is gone; Alice's stays.
      assert.match(printed('parley admin stats').stdout, /^accounts\s+1$/m);
    });

    it('links a second device in two terminals, as the README shows', async () => {
      const [linkLine = '', approveLine = ''] = others.flat();
      assert.ok(linkLine.startsWith('parley link ') && approveLine.includes(' CODE '));
      let shown: (code: string) => void;
      const code = new Promise<string>((resolve) => {
        shown = resolve;
      });
      const link = run(setup, [linkLine], (stdout) => {
        const match = /^Code: (.+)$/m.exec(stdout);
        if (match) shown(match[1]!.trim());
      });
      const typed = await Promise.race([
        code,
        link.then((r) => {
          throw new Error(`parley link ended before showing a code:\n${r.stderr}`);
        }),
      ]);
      const approved = await run(setup, [approveLine.replace(' CODE ', ` '${typed}' `)]);
      assert.equal(approved.code, 0, approved.stderr);
      assert.match(approved.steps[0]!.stdout, /^linked; added to 1 conversation/m);
      const linked = await link;
      assert.equal(linked.code, 0, linked.stderr);
      assert.match(linked.steps[0]!.stdout, /^Linked: this device \("laptop"\)/m);
    });
  });
});

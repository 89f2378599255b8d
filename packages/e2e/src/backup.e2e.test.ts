/**
 * Backup and restore as an operator runs them (issue 20): `parley admin backup` against a running
 * `parley serve` on SQLite while two people keep sending to a third who is offline; the server is
 * stopped, `parley admin restore` brings the backup into a new data directory, and a server
 * started on it at the same address is the deployment as of one moment: a newcomer finds every
 * user by blind discovery (OPRF keys restored), and the offline person receives every message
 * stored before the backup began, each once, in order, and no message of a sender without the
 * ones before it. Wrong passphrases, damaged files and a running server's directory are refused.
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ChatMessage, FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import { openDatabase } from '@parley/server';
import {
  createPostgresDatabase,
  databaseAt,
  dropPostgresDatabases,
  dumpPostgresDatabase,
  MIGRATION_NAMES,
  POSTGRES_ADMIN_URL,
  postgresReachable,
} from '@parley/server/testing';
import { BIN, runParley, ServerProcess } from './harness/server-process.js';
import { texts, until } from './harness/wait.js';

const NUMBERS = {
  alice: '+14155550311',
  bob: '+14155550322',
  carol: '+14155550333',
  dave: '+14155550344',
  erin: '+14155550355',
};

interface Person {
  client: ParleyClient;
  inbox: ChatMessage[];
  errors: string[];
}

/** Opening, starting and registering the clients of one test, on whichever server runs now. */
function crowd(root: string, people: Person[], server: () => ServerProcess) {
  async function open(name: string): Promise<Person> {
    const client = await ParleyClient.open({
      serverUrl: server().url,
      store: new FileStore(join(root, name)),
      socket: nodeSocket,
    });
    const person: Person = { client, inbox: [], errors: [] };
    people.push(person);
    return person;
  }

  /** Starts a registered person's messenger, keeping what it receives and reports. */
  async function start(person: Person): Promise<void> {
    person.client.messenger.on('message', (m) => person.inbox.push(m));
    person.client.messenger.on('error', (e) => person.errors.push(`${e.code}: ${e.message}`));
    await person.client.messenger.start();
  }

  async function register(name: keyof typeof NUMBERS): Promise<Person> {
    const person = await open(name);
    const { verificationId } = await person.client.requestCode(NUMBERS[name]);
    await person.client.register({
      verificationId,
      code: await server().codeFor(verificationId),
      discoverable: true,
      presence: 'nobody',
      deviceName: name,
    });
    await start(person);
    return person;
  }
  return { open, start, register };
}

describe('backup under load, restore, and a server on the restored directory', {
  timeout: 300_000,
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-backup-'));
  const passphraseFile = join(root, 'passphrase');
  writeFileSync(passphraseFile, 'a long backup passphrase\n', { mode: 0o600 });
  const passphrase = { PARLEY_BACKUP_PASSPHRASE_FILE: passphraseFile };
  const people: Person[] = [];
  let server: ServerProcess | undefined;
  after(async () => {
    for (const p of people) p.client.close();
    await server?.stop();
  });

  const { open, start, register } = crowd(root, people, () => server!);

  it('restores a consistent deployment: everyone found, every queued message delivered once', async () => {
    const env = { PARLEY_WEB_DIR: 'off', PARLEY_LOG_LEVEL: 'warn' };
    server = await ServerProcess.start(env);
    const dataDir = server.dataDir;
    const alice = await register('alice');
    const bob = await register('bob');
    const carol = await register('carol');
    const dave = await register('dave');
    const carolId = carol.client.account!.accountId;
    const carolDevice = carol.client.account!.deviceId;
    const conversations = new Map<Person, string>();
    for (const sender of [alice, bob]) {
      const found = await sender.client.lookupNumber(NUMBERS.carol);
      assert.equal(found.accountId, carolId);
      conversations.set(sender, (await sender.client.messenger.createConversation([carolId])).id);
    }
    await until('carol to join both conversations', async () => {
      const joined = (await carol.client.messenger.conversations()).map((c) => c.id);
      return [...conversations.values()].every((id) => joined.includes(id));
    });
    // Carol goes offline: from now on, everything for her waits in her queue.
    carol.client.close();

    // Alice and Bob send without pause, each in order, while the backup runs.
    const sent = new Map<Person, { id: string; text: string }[]>([
      [alice, []],
      [bob, []],
    ]);
    // How many sends each has begun: a message in the backup was begun before the backup ended.
    const begun = new Map<Person, number>([
      [alice, 0],
      [bob, 0],
    ]);
    let sending = true;
    const loops = [alice, bob].map(async (sender, s) => {
      for (let i = 1; sending; i++) {
        begun.set(sender, i);
        const text = `${s === 0 ? 'a' : 'b'}${i}`;
        const message = await sender.client.messenger.send(conversations.get(sender)!, text);
        sent.get(sender)!.push({ id: message.id, text });
      }
    });
    await until('both to have sent 15', () => [...sent.values()].every((l) => l.length >= 15));
    const storedBefore = new Map([...sent].map(([p, list]) => [p, list.length]));
    const databaseBackup = join(root, 'db', 'parley.backup');
    const keyBackup = join(root, 'keys', 'parley-keys.backup');
    for (const dir of ['db', 'keys']) mkdirOwner(join(root, dir));
    const backup = await runParley(
      ['admin', 'backup', '--out', databaseBackup, '--keys-out', keyBackup, '--data', dataDir],
      passphrase,
    );
    assert.equal(backup.code, 0, backup.stderr);
    const begunBy = new Map(begun);
    await until('both to send on after the backup', () =>
      [...sent].every(([p, list]) => list.length >= begunBy.get(p)! + 5),
    );
    sending = false;
    await Promise.all(loops);
    for (const p of [alice, bob, dave]) p.client.close();

    // Refused while the server runs, even with --force.
    const inUse = await runParley(
      [
        'admin',
        'restore',
        '--from',
        databaseBackup,
        '--keys',
        keyBackup,
        '--data',
        dataDir,
        '--force',
      ],
      passphrase,
    );
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /RESTORE_TARGET_IN_USE/);
    const port = server.port;
    await server.stop();

    const restoredDir = join(root, 'restored');
    const wrong = await runParley(
      ['admin', 'restore', '--from', databaseBackup, '--keys', keyBackup, '--data', restoredDir],
      { PARLEY_BACKUP_PASSPHRASE: 'not the passphrase at all' },
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /BACKUP_PASSPHRASE_WRONG/);
    const cut = join(root, 'cut.backup');
    writeFileSync(cut, readFileSync(databaseBackup).subarray(0, 10_000));
    const truncated = await runParley(
      ['admin', 'restore', '--from', cut, '--keys', keyBackup, '--data', restoredDir],
      passphrase,
    );
    assert.match(truncated.stderr, /BACKUP_TRUNCATED/);
    assert.ok(!existsSync(restoredDir), 'nothing written by a refused restore');

    const restored = await runParley(
      ['admin', 'restore', '--from', databaseBackup, '--keys', keyBackup, '--data', restoredDir],
      passphrase,
    );
    assert.equal(restored.code, 0, restored.stderr);

    // What the backup holds for Carol: per sender, the messages stored before it began and
    // possibly some of those sent while it ran; never one without those before it.
    const queued = await queuedFor(restoredDir, carolDevice);
    const expected = new Map<Person, string[]>();
    for (const [sender, list] of sent) {
      const ids = list.map((m) => m.id);
      const inBackup = queued.filter((id) => ids.includes(id));
      const prefix = list.slice(0, inBackup.length);
      assert.deepEqual(
        new Set(inBackup),
        new Set(prefix.map((m) => m.id)),
        'the backup holds a prefix of each sender’s messages',
      );
      assert.ok(inBackup.length >= storedBefore.get(sender)!, 'everything stored before it');
      assert.ok(inBackup.length <= begunBy.get(sender)!, 'nothing sent after it ended');
      expected.set(
        sender,
        prefix.map((m) => m.text),
      );
    }
    assert.equal(queued.length, [...expected.values()].flat().length, 'and nothing else');

    server = await ServerProcess.start({ ...env, PARLEY_PORT: port }, restoredDir);
    // A newcomer finds every user, blindly, under the restored OPRF key.
    const erin = await register('erin');
    for (const [name, number] of Object.entries(NUMBERS)) {
      if (name === 'erin') continue;
      const found = await erin.client.lookupNumber(number);
      assert.equal(found.status, 'on-parley', name);
    }
    assert.equal((await erin.client.lookupNumber(NUMBERS.carol)).accountId, carolId);

    // Carol comes back: every message in the backup arrives once, in order.
    const back = await open('carol');
    await start(back);
    await until(
      'carol’s queue to be delivered and acknowledged',
      async () => (await queuedFor(restoredDir, carolDevice)).length === 0,
      120_000,
    );
    await until('carol to have shown every message', () =>
      [...expected].every(
        ([sender, list]) => texts(back.inbox, conversations.get(sender)!).length >= list.length,
      ),
    );
    for (const [sender, list] of expected) {
      assert.deepEqual(texts(back.inbox, conversations.get(sender)!), list);
    }
    assert.deepEqual(back.errors, []);
  });
});

/** The message ids queued for `deviceId` in the SQLite database of `dataDir`. */
async function queuedFor(dataDir: string, deviceId: string): Promise<string[]> {
  const db = await openDatabase({ kind: 'sqlite', dataDir });
  try {
    const rows = await db
      .selectFrom('queue')
      .select('message_id')
      .where('device_id', '=', deviceId)
      .where('kind', '=', 'application')
      .orderBy('seq')
      .execute();
    return rows.map((r) => r.message_id);
  } finally {
    await db.destroy();
  }
}

/** A directory readable by its owner only, as an operator would keep a backup in. */
function mkdirOwner(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

describe('parley admin backup: the passphrase and the paths', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-backup-args-'));
  const dataDir = join(root, 'data');
  const out = join(root, 'out');
  const args = ['admin', 'backup', '--out', join(out, 'db'), '--keys-out', join(out, 'keys')];
  const withData = [...args, '--data', dataDir];

  it('refuses what cannot work before asking anything or writing anything', async () => {
    await databaseAt({ kind: 'sqlite', dataDir }, MIGRATION_NAMES.sqlite.at(-1)!);
    const env = { PARLEY_BACKUP_PASSPHRASE: 'a long backup passphrase' };
    const noDir = await runParley(withData, env);
    assert.equal(noDir.code, 64);
    assert.match(noDir.stderr, /the directory of .*db does not exist; create it first/);
    mkdirOwner(out);
    const noDatabase = await runParley([...args, '--data', join(root, 'elsewhere')], env);
    assert.equal(noDatabase.code, 64);
    assert.match(noDatabase.stderr, /there is no database in .*elsewhere/);
    const none = await runParley(withData);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /no passphrase: set PARLEY_BACKUP_PASSPHRASE_FILE/);
    const short = await runParley(withData, { PARLEY_BACKUP_PASSPHRASE: 'too short' });
    assert.equal(short.code, 64);
    assert.match(short.stderr, /at least 12 characters/);
    const asArgument = await runParley([...withData, '--passphrase', 'a long passphrase']);
    assert.equal(asArgument.code, 64);
    assert.match(asArgument.stderr, /Unknown option '--passphrase'/);
    const noKeys = await runParley(['admin', 'backup', '--out', join(out, 'db')]);
    assert.equal(noKeys.code, 64);
    assert.match(noKeys.stderr, /--keys-out FILE is required/);
    assert.deepEqual(readdirSync(out), [], 'nothing written');
  });

  it('is asked twice at a terminal, not echoed, and opens the key backup', async () => {
    const passphrase = 'typed at the terminal';
    // util-linux `script` gives the command a terminal; its output is what the terminal shows.
    const command = [process.execPath, BIN, ...withData].join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout!.on('data', (d) => (screen += d));
    child.stderr!.on('data', (d) => (screen += d));
    let ended = false;
    const exited = new Promise<number | null>((r) =>
      child.on('close', (code) => {
        ended = true;
        r(code);
      }),
    );
    const asked = async (question: string) => {
      await until(question, () => ended || screen.includes(question));
      assert.ok(!ended, `it ended before asking:\n${screen}`);
    };
    await asked('Backup passphrase: ');
    child.stdin!.write(`${passphrase}\r`);
    await asked('The same passphrase again: ');
    child.stdin!.write(`${passphrase}\r`);
    assert.equal(await exited, 0, screen);
    assert.ok(!screen.includes(passphrase), 'the passphrase is not echoed');
    const restored = await runParley(
      [
        'admin',
        'restore',
        '--from',
        join(out, 'db'),
        '--keys',
        join(out, 'keys'),
        '--data',
        join(root, 'restored'),
      ],
      { PARLEY_BACKUP_PASSPHRASE: passphrase },
    );
    assert.equal(restored.code, 0, restored.stderr);
  });
});

const postgres = await postgresReachable();
const pgTools = ['pg_dump', 'pg_restore'].filter((tool) => !onPath(tool));

/**
 * PostgreSQL as docs/operations.md tells operators to back it up: `pg_dump` of the running
 * server's database (one consistent snapshot), the keys sealed by `parley admin backup
 * --keys-out`; then `pg_restore` into a fresh database, `parley admin restore --keys` into a new
 * data directory, and a server on both.
 */
describe('PostgreSQL: pg_dump, pg_restore into a fresh database, a server on it', {
  timeout: 300_000,
  skip:
    (postgres && pgTools.length === 0) || process.env.CI === 'true'
      ? false
      : `needs PostgreSQL at ${POSTGRES_ADMIN_URL} and ${pgTools.join(', ') || 'its tools'}`,
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'parley-backup-pg-'));
  const passphrase = { PARLEY_BACKUP_PASSPHRASE: 'a long backup passphrase' };
  const people: Person[] = [];
  let server: ServerProcess | undefined;
  after(async () => {
    for (const p of people) p.client.close();
    await server?.stop();
    await dropPostgresDatabases();
  });
  const { open, start, register } = crowd(root, people, () => server!);

  it('restores accounts, directory and queued messages', async () => {
    const original = await createPostgresDatabase();
    const env = { PARLEY_WEB_DIR: 'off', PARLEY_LOG_LEVEL: 'warn' };
    server = await ServerProcess.start({ ...env, PARLEY_DATABASE_URL: original });
    const alice = await register('alice');
    const bob = await register('bob');
    const bobId = bob.client.account!.accountId;
    const conversation = (await alice.client.messenger.createConversation([bobId])).id;
    await until('bob to join', async () =>
      (await bob.client.messenger.conversations()).some((c) => c.id === conversation),
    );
    bob.client.close();
    const sent = ['one', 'two', 'three', 'four', 'five'];
    for (const text of sent) await alice.client.messenger.send(conversation, text);

    const keys = join(root, 'parley-keys.backup');
    const onPostgres = { ...passphrase, PARLEY_DATABASE_URL: original };
    const refused = await runParley(
      ['admin', 'backup', '--out', join(root, 'db'), '--keys-out', keys, '--data', server.dataDir],
      onPostgres,
    );
    assert.match(refused.stderr, /BACKUP_NEEDS_PG_DUMP/);
    const sealed = await runParley(
      ['admin', 'backup', '--keys-out', keys, '--data', server.dataDir],
      onPostgres,
    );
    assert.equal(sealed.code, 0, sealed.stderr);
    // As documented: the custom format, while the server runs.
    const dump = join(root, 'parley.dump');
    await tool('pg_dump', ['--format=custom', `--file=${dump}`, `--dbname=${original}`]);
    alice.client.close();
    const port = server.port;
    await server.stop();

    const fresh = await createPostgresDatabase();
    await tool('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${fresh}`, dump]);
    const dataDir = join(root, 'restored');
    const restored = await runParley(['admin', 'restore', '--keys', keys, '--data', dataDir], {
      ...passphrase,
      PARLEY_DATABASE_URL: fresh,
    });
    assert.equal(restored.code, 0, restored.stderr);
    const plan = await runParley(['admin', 'migrate', '--dry-run'], { PARLEY_DATABASE_URL: fresh });
    assert.match(plan.stdout, /up to date/);

    server = await ServerProcess.start(
      { ...env, PARLEY_DATABASE_URL: fresh, PARLEY_PORT: port },
      dataDir,
    );
    const erin = await register('erin');
    assert.equal((await erin.client.lookupNumber(NUMBERS.bob)).accountId, bobId);
    assert.equal(
      (await erin.client.lookupNumber(NUMBERS.alice)).accountId,
      alice.client.account!.accountId,
    );
    const bobDevice = bob.client.account!.deviceId;
    // A row of the queue as PostgreSQL prints it: (id,device_id,…).
    const queuedForBob = (row: string) =>
      row.startsWith('queue (') && row.split(',')[1] === bobDevice;
    assert.equal(
      (await dumpPostgresDatabase(fresh)).filter(queuedForBob).length,
      sent.length,
      'the restored database holds what was queued for Bob',
    );
    const back = await open('bob');
    await start(back);
    // Once nothing is queued for Bob, nothing more can arrive: what he has is all he gets.
    await until(
      'bob’s queue to be delivered and acknowledged',
      async () => !(await dumpPostgresDatabase(fresh)).some(queuedForBob),
      120_000,
    );
    await until('bob to have shown all five', () => texts(back.inbox, conversation).length >= 5);
    assert.deepEqual(texts(back.inbox, conversation), sent);
    assert.deepEqual(back.errors, []);
  });
});

function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/** Runs a PostgreSQL client tool; fails with what it printed if it fails. */
function tool(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output}`)),
    );
  });
}

/**
 * Acceptance test for blind contact discovery, against a real `parley serve` process over HTTP:
 * registration, consent, a 1,000-contact vCard import, discovery, incremental discovery, key
 * rotation without re-verification, the transparency log, withdrawal, and a scan of everything the
 * server wrote for any trace of any phone number used.
 */

import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MemoryStore, ParleyClient, ParleyError } from '@parley/client';
import { normalizePhoneNumber, phoneNumberForms } from '@parley/core';
import { BIN, ServerProcess } from './harness/server-process.js';

const run = promisify(execFile);

interface Traffic {
  method: string;
  path: string;
  body: string;
  /** For directory downloads: 'snapshot' or 'delta'. */
  directory?: string;
}

/** A fetch that records every request the SDK makes, so the test sees all traffic. */
function recordingFetch(log: Traffic[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const entry: Traffic = {
      method: init?.method ?? 'GET',
      path: url.pathname,
      body: typeof init?.body === 'string' ? init.body : '',
    };
    log.push(entry);
    const response = await fetch(input, init);
    if (url.pathname === '/v1/directory' && response.ok) {
      entry.directory = ((await response.clone().json()) as { type: string }).type;
    }
    return response;
  };
}

async function registerUser(server: ServerProcess, phoneNumber: string, discoverable: boolean) {
  const traffic: Traffic[] = [];
  const client = await ParleyClient.open({
    serverUrl: server.url,
    store: new MemoryStore(),
    fetch: recordingFetch(traffic),
  });
  const { verificationId } = await client.requestCode(phoneNumber);
  const code = await server.codeFor(verificationId);
  await client.register({
    verificationId,
    code,
    discoverable,
    presence: 'nobody',
    deviceName: 'test device',
  });
  return { client, traffic };
}

/** Valid, distinct US numbers that are nobody's (fictional 555 numbers excluded on purpose). */
function syntheticNumbers(count: number, seed: number): string[] {
  const out = new Set<string>();
  let x = seed;
  const areaCodes = [212, 213, 305, 312, 415, 503, 617, 646, 702, 718, 773, 917];
  while (out.size < count) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const area = areaCodes[x % areaCodes.length]!;
    const exchange = 200 + ((x >> 8) % 700);
    if (exchange === 555) continue;
    const line = String((x >> 4) % 10000).padStart(4, '0');
    const candidate = `+1${area}${exchange}${line}`;
    const check = normalizePhoneNumber(candidate);
    if (check.ok) out.add(check.e164);
  }
  return [...out];
}

function vcard(entries: { name: string; tel: string }[]): string {
  return entries
    .map(
      (e) =>
        `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:${e.name}\r\nN:${e.name};;;;\r\nTEL;TYPE=CELL:${e.tel}\r\nEND:VCARD\r\n`,
    )
    .join('');
}

function onParleyNumbers(contacts: { phoneNumber: string; status: string }[]): string[] {
  return [...new Set(contacts.filter((c) => c.status === 'on-parley').map((c) => c.phoneNumber))];
}

const ALICE = '+14152223344';
const BOB = '+447911123456';
const CAROL = '+4915123456789';

describe('blind contact discovery, end to end (real server process)', () => {
  let server: ServerProcess;
  let dave: ParleyClient;
  let daveStore: MemoryStore;
  let aliceClient: ParleyClient;
  const traffic: Traffic[] = [];
  const contactNumbers = syntheticNumbers(994, 7);
  const added = syntheticNumbers(1, 99)[0]!;
  /** What kind of filter download ('snapshot' or 'delta') each directory request since `from` got. */
  const directoryDownloads = (from: number) =>
    traffic
      .slice(from)
      .filter((t) => t.path === '/v1/directory')
      .map((t) => t.directory);
  const evaluatedIn = (from: number) =>
    traffic
      .slice(from)
      .filter((t) => t.path === '/v1/discovery/evaluate')
      .reduce(
        (n, t) => n + (JSON.parse(t.body) as { blindedElements: string[] }).blindedElements.length,
        0,
      );

  before(async () => {
    server = await ServerProcess.start({
      PARLEY_DISCOVERY_BUDGET: '5000',
      PARLEY_DISCOVERY_REFILL_PER_HOUR: '0',
    });
    for (const n of [ALICE, BOB, CAROL]) {
      assert.ok(normalizePhoneNumber(n).ok, `${n} must be a valid number for this test`);
    }
    assert.ok(!contactNumbers.includes(added));
    daveStore = new MemoryStore();
    dave = await ParleyClient.open({
      serverUrl: server.url,
      store: daveStore,
      defaultRegion: 'US',
      fetch: recordingFetch(traffic),
    });
  });

  after(async () => {
    await server?.stop();
  });

  it('registers two discoverable users and one who is not discoverable', async () => {
    const alice = await registerUser(server, ALICE, true);
    aliceClient = alice.client;
    const bob = await registerUser(server, BOB, true);
    const carol = await registerUser(server, CAROL, false);
    assert.equal(alice.client.account?.discoverable, true);
    assert.equal(carol.client.account?.discoverable, false);
    assert.notEqual(alice.client.account?.accountId, bob.client.account?.accountId);
    const { verificationId } = await dave.requestCode('+12125550199');
    await dave.register({
      verificationId,
      code: await server.codeFor(verificationId),
      presence: 'nobody',
      discoverable: false,
      deviceName: 'dave laptop',
    });
    assert.equal(dave.registered, true);
  });

  it('refuses import and discovery without consent, and sends nothing', async () => {
    const before = traffic.length;
    await assert.rejects(dave.contacts.importFile(vcard([{ name: 'A', tel: ALICE }])), {
      code: 'CONSENT_REQUIRED',
    });
    await assert.rejects(dave.discover(), { code: 'CONSENT_REQUIRED' });
    await assert.rejects(dave.contacts.add('X', ALICE), { code: 'CONSENT_REQUIRED' });
    assert.equal(traffic.length, before, 'no request may leave the process without consent');
    assert.equal(await daveStore.get('contacts'), undefined);
  });

  it('imports a 1,000-entry vCard and finds exactly the two discoverable users', async () => {
    await dave.consent.grant(dave.consent.disclosure());
    const entries = [
      { name: 'Alice (national format)', tel: '(415) 222-3344' },
      { name: 'Bob', tel: '+44 7911 123456' },
      { name: 'Carol', tel: '+49 151 23456789' },
      { name: 'Alice again', tel: '+1 415-222-3344' },
      { name: 'Broken one', tel: '12' },
      { name: 'Broken two', tel: 'call me maybe' },
      ...contactNumbers.map((n, i) => ({ name: `Contact ${i}`, tel: n })),
    ];
    assert.equal(entries.length, 1000);
    const before = traffic.length;
    const result = await dave.contacts.importFile(vcard(entries), 'contacts.vcf');
    assert.equal(traffic.length, before, 'importing reads the file locally and sends nothing');
    assert.equal(result.entries, 1000);
    assert.equal(result.issues.length, 2);
    assert.deepEqual(
      result.issues.map((i) => i.entry),
      [5, 6],
    );
    assert.ok(result.duplicates >= 1);

    const { contacts, report } = await dave.discover();
    const onParley = onParleyNumbers(contacts);
    assert.deepEqual(onParley.sort(), [ALICE, BOB].sort());
    assert.equal(
      contacts.find((c) => c.phoneNumber === CAROL)?.status,
      'not-on-parley',
      'a non-discoverable user looks exactly like a non-user',
    );
    const unique = contactNumbers.length + 3;
    assert.equal(report.stats.evaluated, unique);
    assert.equal(evaluatedIn(before), unique);
    assert.equal(report.budget?.remaining, 5000 - unique);
  });

  it('a second run sends no new evaluations; one new contact sends exactly one', async () => {
    let before = traffic.length;
    const second = await dave.discover();
    assert.equal(evaluatedIn(before), 0);
    assert.equal(second.report.stats.evaluated, 0);
    assert.equal(second.report.stats.resolved, 2);

    await dave.contacts.add('New friend', added);
    before = traffic.length;
    const third = await dave.discover();
    assert.equal(evaluatedIn(before), 1);
    assert.equal(third.report.stats.evaluated, 1);
    assert.equal(third.report.budget?.remaining, 5000 - (contactNumbers.length + 3) - 1);
  });

  it('finds a contact who registers later through a filter delta, re-sending nothing', async () => {
    const eve = contactNumbers[10]!;
    await registerUser(server, eve, true);
    const before = traffic.length;
    const { contacts, report } = await dave.discover();
    assert.equal(evaluatedIn(before), 0);
    assert.deepEqual(directoryDownloads(before), ['delta']);
    assert.deepEqual(onParleyNumbers(contacts).sort(), [ALICE, BOB, eve].sort());
    assert.equal(report.stats.resolved, 3);
  });

  it('finds the same users after key rotation, with no verification and no budget spent', async () => {
    const codesBefore = server.output.match(/verification code/g)?.length ?? 0;
    const { stdout } = await run(process.execPath, [
      BIN,
      'admin',
      'rotate-key',
      '--data',
      server.dataDir,
      '--server',
      server.url,
      '--json',
    ]);
    const rotated = JSON.parse(stdout) as {
      keyId: string;
      previousKeyId: string;
      accountsRekeyed: number;
    };
    assert.notEqual(rotated.keyId, rotated.previousKeyId);
    assert.equal(rotated.accountsRekeyed, 5);

    const before = traffic.length;
    const { contacts, report } = await dave.discover();
    assert.equal(report.keyId, rotated.keyId);
    assert.equal(evaluatedIn(before), 0, 'rotation costs no evaluations');
    assert.equal(report.stats.rekeyed, contactNumbers.length + 4);
    const onParley = onParleyNumbers(contacts);
    assert.deepEqual(onParley.sort(), [ALICE, BOB, contactNumbers[10]!].sort());
    assert.equal(server.output.match(/verification code/g)?.length ?? 0, codesBefore);

    // The budget is where it was: one more new contact costs exactly one.
    await dave.contacts.add('Another friend', syntheticNumbers(1, 12345)[0]!);
    const next = await dave.discover();
    assert.equal(next.report.budget?.remaining, 5000 - (contactNumbers.length + 4) - 1);
  });

  it('a user who stops being discoverable disappears through a delta', async () => {
    await aliceClient.updateAccount({ discoverable: false });
    const before = traffic.length;
    const { contacts } = await dave.discover();
    assert.deepEqual(directoryDownloads(before), ['delta']);
    assert.equal(contacts.find((c) => c.phoneNumber === ALICE)?.status, 'not-on-parley');
    assert.equal(evaluatedIn(before), 0);
    await aliceClient.updateAccount({ discoverable: true });
    const again = await dave.discover();
    assert.equal(again.contacts.find((c) => c.phoneNumber === ALICE)?.status, 'on-parley');
  });

  it('the transparency log lists every upload, and nothing else left the device', async () => {
    const log = await dave.uploads();
    const withBody = traffic.filter((t) => t.body !== '');
    assert.equal(log.length, withBody.length, 'one log entry per request that carried data');
    const blindedItems = log
      .filter((e) => e.kind === 'blinded-contact-numbers')
      .reduce((n, e) => n + e.items, 0);
    assert.equal(blindedItems, evaluatedIn(0));
    assert.ok(log.every((e) => e.server === server.url && e.bytes > 0));
    // No contact's number, in any form, is in any request Dave's device made.
    const everything =
      withBody.map((t) => t.body).join('\n') + traffic.map((t) => t.path).join('\n');
    for (const n of [ALICE, BOB, CAROL, ...contactNumbers.slice(0, 200)]) {
      for (const form of phoneNumberForms(n)) {
        assert.ok(!everything.includes(form), 'a contact number left the device');
      }
    }
  });

  it('withdrawing consent erases the discovery cache and the imported contacts', async () => {
    assert.ok(await daveStore.get('discoveryCache'));
    await dave.consent.withdraw();
    assert.equal(await daveStore.get('discoveryCache'), undefined);
    assert.equal(await daveStore.get('directoryFilter'), undefined);
    assert.equal(await daveStore.get('contacts'), undefined);
    const before = traffic.length;
    await assert.rejects(
      dave.discover(),
      (e: unknown) => e instanceof ParleyError && e.code === 'CONSENT_REQUIRED',
    );
    assert.equal(traffic.length, before);
  });

  it('leaves no phone number at rest: not in the data directory, not in the log output', async () => {
    await server.stop();
    const files = readdirSync(server.dataDir).map((f) => join(server.dataDir, f));
    assert.ok(files.some((f) => f.endsWith('parley.sqlite')));
    const blobs = files.map((f) => ({ f, text: readFileSync(f).toString('latin1') }));
    blobs.push({ f: 'server output', text: server.output });
    const all = [ALICE, BOB, CAROL, '+12125550199', added, ...contactNumbers];
    for (const n of all) {
      for (const form of phoneNumberForms(n)) {
        for (const { f, text } of blobs) {
          const at = text.indexOf(form);
          // Test numbers are synthetic: naming the form and its context makes a failure actionable.
          assert.ok(
            at < 0,
            `found '${form}' (a form of ${n}) in ${f}: …${JSON.stringify(text.slice(Math.max(0, at - 60), at + form.length + 60))}…`,
          );
        }
      }
    }
  });
});

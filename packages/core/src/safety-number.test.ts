import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  compareScannedSafetyNumber,
  numericFingerprint,
  partyFingerprint,
  SAFETY_NUMBER_ITERATIONS,
  SAFETY_NUMBER_SCANNABLE_LENGTH,
  SAFETY_NUMBER_SCANNABLE_VERSION,
  type SafetyNumberParty,
  safetyNumber,
} from './safety-number.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * libsignal's numeric fingerprint vectors: signalapp/libsignal rust/protocol/src/fingerprint.rs
 * (`fingerprint_test_v1`/`_v2`, "testVectorsVersion1 in Java"; the same identities, ids and
 * display string are in signalapp/libsignal-protocol-java's NumericFingerprintGeneratorTest, 2016).
 * 5200 iterations, fingerprint version 0, keys with their 0x05 type byte. The 32-byte fingerprints
 * are the `content` fields of ALICE_SCANNABLE_FINGERPRINT_V2 = 08 02 | 12 22 0a 20 <local>
 * | 1a 22 0a 20 <remote> (protobuf CombinedFingerprints, Alice's side).
 */
const SIGNAL = {
  alice: {
    stableId: '+14152222222',
    identityKey: '0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868',
    fingerprint: '1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df',
  },
  bob: {
    stableId: '+14153333333',
    identityKey: '05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b',
    fingerprint: 'd62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d',
  },
  display: '300354477692869396892869876765458257569162576843440918079131',
  scannableV2:
    '080212220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df' +
    '1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d',
};
const SIGNAL_FORM = { version: 0, keyPrefix: Uint8Array.of(0x05) };

/** A Signal vector party as our internal function takes it: the key without its type byte. */
function signalParty(party: typeof SIGNAL.alice) {
  const key = unhex(party.identityKey);
  assert.equal(key[0], 0x05);
  return { stableId: ascii(party.stableId), identityKey: key.subarray(1) };
}

/**
 * An independent implementation on node:crypto's SHA-512, written from libsignal's description,
 * to hold the libsodium one to: the per-party hash, the 30 digits, the ordering, the QR bytes.
 */
function reference(local: SafetyNumberParty, remote: SafetyNumberParty) {
  const party = ({ accountId, identityKey }: SafetyNumberParty) => {
    const key = Buffer.from(identityKey);
    let hash = createHash('sha512')
      .update(Buffer.from([0, 0]))
      .update(key)
      .update(accountId, 'utf8')
      .update(key)
      .digest();
    for (let i = 1; i < 5200; i++) hash = createHash('sha512').update(hash).update(key).digest();
    let half = '';
    for (let i = 0; i < 30; i += 5) half += String(hash.readUIntBE(i, 5) % 100000).padStart(5, '0');
    return { half, fingerprint: hash.subarray(0, 32) };
  };
  const [low, high] = [party(local), party(remote)].sort((a, b) =>
    a.half === b.half ? Buffer.compare(a.fingerprint, b.fingerprint) : a.half < b.half ? -1 : 1,
  );
  return {
    digits: low!.half + high!.half,
    scannable: Buffer.concat([Buffer.from([1]), low!.fingerprint, high!.fingerprint]).toString(
      'hex',
    ),
  };
}

const party = (accountId: string, key: Uint8Array | string): SafetyNumberParty => ({
  accountId,
  identityKey: typeof key === 'string' ? unhex(key) : key,
});
const randomParty = (accountId = 'acc' + randomBytes(6).toString('hex')): SafetyNumberParty =>
  party(accountId, new Uint8Array(randomBytes(32)));

/** Fixed Parley inputs, and their value from `reference` (run once, written down). */
const ALICE = party(
  'aliceAcc01',
  '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
);
const BOB = party('bob_Acc-02', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
const ALICE_BOB_DIGITS = '247294429467868844627155295419258517504416112695795421224434';

describe('libsignal NumericFingerprintGenerator vectors (Signal form: 0x05-prefixed keys)', () => {
  test('each party hashes to the fingerprint in the scannable vector', async () => {
    assert.equal(SAFETY_NUMBER_ITERATIONS, 5200);
    for (const who of [SIGNAL.alice, SIGNAL.bob]) {
      const hash = await partyFingerprint(signalParty(who), SIGNAL_FORM);
      assert.equal(hash.length, 64);
      assert.equal(hex(hash.subarray(0, 32)), who.fingerprint, who.stableId);
    }
    // The fingerprints above are exactly the ones inside libsignal's serialized vector.
    assert.ok(SIGNAL.scannableV2.includes(SIGNAL.alice.fingerprint + '1a220a20'));
    assert.ok(SIGNAL.scannableV2.endsWith(SIGNAL.bob.fingerprint));
  });

  test('both sides display the 60 digits of the vector', async () => {
    const alice = signalParty(SIGNAL.alice);
    const bob = signalParty(SIGNAL.bob);
    const fromAlice = await numericFingerprint(alice, bob, SIGNAL_FORM);
    const fromBob = await numericFingerprint(bob, alice, SIGNAL_FORM);
    assert.equal(fromAlice.digits, SIGNAL.display);
    assert.equal(fromBob.digits, SIGNAL.display);
    // Alice's half (30035…) is the lower, so her fingerprint comes first in our QR form.
    const expected = '01' + SIGNAL.alice.fingerprint + SIGNAL.bob.fingerprint;
    assert.equal(hex(fromAlice.scannable), expected);
    assert.equal(hex(fromBob.scannable), expected);
  });
});

describe('safetyNumber (Parley: raw Ed25519 key, account id, version 0)', () => {
  test('matches an independent node:crypto implementation, and a value written down', async () => {
    const computed = await safetyNumber(ALICE, BOB);
    const expected = reference(ALICE, BOB);
    assert.equal(computed.digits, expected.digits);
    assert.equal(hex(computed.scannable), expected.scannable);
    assert.equal(computed.digits, ALICE_BOB_DIGITS);
    for (let i = 0; i < 3; i++) {
      const a = randomParty();
      const b = randomParty();
      const random = await safetyNumber(a, b);
      const check = reference(a, b);
      assert.equal(random.digits, check.digits);
      assert.equal(hex(random.scannable), check.scannable);
    }
  });

  test('is 60 digits in 12 groups of 5, and a 65-byte version-1 QR payload', async () => {
    const { digits, groups, scannable } = await safetyNumber(ALICE, BOB);
    assert.match(digits, /^\d{60}$/);
    assert.equal(groups.length, 12);
    for (const group of groups) assert.match(group, /^\d{5}$/);
    assert.equal(groups.join(''), digits);
    assert.equal(scannable.length, SAFETY_NUMBER_SCANNABLE_LENGTH);
    assert.equal(scannable[0], SAFETY_NUMBER_SCANNABLE_VERSION);
  });

  test('both sides compute the same value, lower half first', async () => {
    for (const [a, b] of [[ALICE, BOB] as const, [randomParty(), randomParty()] as const]) {
      const ab = await safetyNumber(a, b);
      const ba = await safetyNumber(b, a);
      assert.equal(ab.digits, ba.digits);
      assert.deepEqual(ab.groups, ba.groups);
      assert.deepEqual(ab.scannable, ba.scannable);
      assert.ok(ab.digits.slice(0, 30) <= ab.digits.slice(30));
    }
    // Alice's half is the lower of the written-down pair: first even when Bob computes it.
    const aliceHalf = (await safetyNumber(ALICE, ALICE)).digits.slice(0, 30);
    assert.equal(ALICE_BOB_DIGITS.slice(0, 30), aliceHalf);
    assert.equal((await safetyNumber(BOB, ALICE)).digits, ALICE_BOB_DIGITS);
  });

  test('changes the half of whoever changed key or account id, and only that half', async () => {
    const base = (await safetyNumber(ALICE, BOB)).digits;
    const aliceHalf = (await safetyNumber(ALICE, ALICE)).digits.slice(0, 30);
    const bobHalf = (await safetyNumber(BOB, BOB)).digits.slice(0, 30);
    const flipped = ALICE.identityKey.slice();
    flipped[31]! ^= 1;
    const changes: [string, SafetyNumberParty, SafetyNumberParty, string][] = [
      ['local key', party(ALICE.accountId, flipped), BOB, bobHalf],
      ['remote key', BOB, party(ALICE.accountId, flipped), bobHalf],
      ['local id', party('aliceAcc02', ALICE.identityKey), BOB, bobHalf],
      ['remote id', ALICE, party('bob_Acc-03', BOB.identityKey), aliceHalf],
    ];
    for (const [what, local, remote, kept] of changes) {
      const { digits } = await safetyNumber(local, remote);
      assert.notEqual(digits, base, what);
      assert.ok(digits.includes(kept), `${what}: the other party's half stays`);
    }
  });

  test('refuses an identity key that is not 32 bytes, or a missing account id', async () => {
    for (const length of [0, 31, 33, 64]) {
      await assert.rejects(
        safetyNumber(party('aliceAcc01', new Uint8Array(length)), BOB),
        RangeError,
      );
      await assert.rejects(
        safetyNumber(ALICE, party('bob_Acc-02', new Uint8Array(length))),
        RangeError,
      );
    }
    await assert.rejects(safetyNumber(party('', ALICE.identityKey), BOB), TypeError);
    const notBytes = {
      accountId: 'x',
      identityKey: 'ab'.repeat(32),
    } as unknown as SafetyNumberParty;
    await assert.rejects(safetyNumber(ALICE, notBytes), TypeError);
  });
});

describe('compareScannedSafetyNumber', () => {
  test('matches the code the other device shows', async () => {
    const theirs = (await safetyNumber(BOB, ALICE)).scannable;
    assert.equal(await compareScannedSafetyNumber(ALICE, BOB, theirs), 'match');
    assert.equal(await compareScannedSafetyNumber(BOB, ALICE, theirs), 'match');
  });

  test('a key in the middle (Alice holds a key that is not Bob’s) mismatches on both sides', async () => {
    const mitm = randomParty(BOB.accountId);
    const alicesView = (await safetyNumber(ALICE, mitm)).scannable;
    const bobsView = (await safetyNumber(BOB, ALICE)).scannable;
    assert.equal(await compareScannedSafetyNumber(BOB, ALICE, alicesView), 'mismatch');
    assert.equal(await compareScannedSafetyNumber(ALICE, mitm, bobsView), 'mismatch');
  });

  test('another account id with the same keys mismatches', async () => {
    const other = (await safetyNumber(party('bob_Acc-03', BOB.identityKey), ALICE)).scannable;
    assert.equal(await compareScannedSafetyNumber(ALICE, BOB, other), 'mismatch');
  });

  test('any changed byte of either fingerprint mismatches', async () => {
    const good = (await safetyNumber(BOB, ALICE)).scannable;
    for (const index of [1, 16, 32, 33, 48, 64]) {
      const bad = good.slice();
      bad[index]! ^= 0x80;
      assert.equal(await compareScannedSafetyNumber(ALICE, BOB, bad), 'mismatch', `byte ${index}`);
    }
  });

  test('another version is unsupported; malformed bytes mismatch, never throw', async () => {
    const good = (await safetyNumber(BOB, ALICE)).scannable;
    for (const version of [0, 2, 0x08, 0xff]) {
      const other = good.slice();
      other[0] = version;
      assert.equal(await compareScannedSafetyNumber(ALICE, BOB, other), 'unsupported-version');
    }
    const malformed = [
      new Uint8Array(),
      Uint8Array.of(SAFETY_NUMBER_SCANNABLE_VERSION),
      good.subarray(0, 64),
      Uint8Array.of(...good, 0),
      'not bytes' as unknown as Uint8Array,
    ];
    for (const bytes of malformed) {
      assert.equal(await compareScannedSafetyNumber(ALICE, BOB, bytes), 'mismatch');
    }
  });
});

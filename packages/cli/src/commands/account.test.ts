import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { UsageError } from '../usage.js';
import { accountCommand, registerCommand } from './account.js';

const VALUES = { discoverable: 'yes', presence: 'nobody', code: '123456' };

/** A client whose account has a registration lock with PIN 2468. */
function lockedNumber(existingAccount = true) {
  const attempts: Array<{ verificationId: string; pin: string | undefined }> = [];
  const client: Parameters<typeof registerCommand>[0] = {
    requestCode: async () => ({ verificationId: 'v1', codeLength: 6 }) as never,
    register: async (input) => {
      attempts.push({ verificationId: input.verificationId, pin: input.registrationLockPin });
      if (input.registrationLockPin !== '2468') {
        throw new ParleyError('REGISTRATION_LOCKED', {
          details: { attemptsLeft: 10 - attempts.length, unlocksAt: '2026-01-08T00:00:00.000Z' },
        });
      }
      return {
        serverUrl: 's',
        accountId: 'acct',
        deviceId: 'dev',
        credential: 'c',
        discoverable: true,
        presence: 'nobody',
        existingAccount,
      };
    },
  };
  return { client, attempts };
}

function io(askPin?: (prompt: string) => Promise<string>) {
  const out: string[] = [];
  const notes: string[] = [];
  return {
    out,
    notes,
    io: {
      out: (t: string) => out.push(t),
      note: (t: string) => notes.push(t),
      ...(askPin ? { askPin } : {}),
    },
  };
}

describe('parley register and the registration lock', () => {
  it('without a terminal: REGISTRATION_LOCKED, saying to give --pin and how the lock stands', async () => {
    const { client } = lockedNumber();
    const { io: streams } = io();
    await assert.rejects(
      registerCommand(client, ['+14155550100'], VALUES, streams),
      (e: unknown) =>
        e instanceof ParleyError &&
        e.code === 'REGISTRATION_LOCKED' &&
        /registration lock\. Give its PIN with --pin \(9 wrong PINs allowed before it refuses; the lock lapses at 2026-01-08T00:00:00.000Z\)\.$/.test(
          e.message,
        ),
    );
  });

  it('at a terminal: asks for the PIN, again when wrong, with the same verification', async () => {
    const { client, attempts } = lockedNumber();
    const answers = ['1111', '2468'];
    const { out, notes, io: streams } = io(async () => answers.shift()!);
    assert.equal(await registerCommand(client, ['+14155550100'], VALUES, streams), 0);
    assert.deepEqual(attempts, [
      { verificationId: 'v1', pin: undefined },
      { verificationId: 'v1', pin: '1111' },
      { verificationId: 'v1', pin: '2468' },
    ]);
    assert.match(notes[0]!, /^This number’s account has a registration lock\./);
    assert.match(notes[1]!, /^Wrong PIN\./);
    assert.match(out[0]!, /^Registered: account acct, device dev\./);
  });

  it('--pin is sent with the registration; a number that had an account says it is a new identity', async () => {
    const { client, attempts } = lockedNumber();
    const { out, io: streams } = io();
    await registerCommand(client, ['+14155550100'], { ...VALUES, pin: '2468' }, streams);
    assert.deepEqual(attempts, [{ verificationId: 'v1', pin: '2468' }]);
    assert.match(out[1]!, /its devices were signed out and this device starts a new identity/);
    assert.match(out[1]!, /safety number changed/);

    const json = io();
    await registerCommand(
      lockedNumber(false).client,
      ['+14155550100'],
      { ...VALUES, pin: '2468', json: true },
      json.io,
    );
    assert.equal(JSON.parse(json.out[0]!).existingAccount, false);
  });

  it('a PIN out of bounds is a usage error before any code is asked', async () => {
    let asked = false;
    const client = {
      ...lockedNumber().client,
      requestCode: async () => {
        asked = true;
        return {} as never;
      },
    };
    await assert.rejects(
      registerCommand(client, ['+14155550100'], { ...VALUES, pin: '12' }, io().io),
      UsageError,
    );
    assert.equal(asked, false);
  });
});

describe('parley account lock / unlock', () => {
  function account() {
    const calls: string[] = [];
    const client = {
      account: undefined,
      deleteAccount: async () => {},
      updateAccount: async () => ({}) as never,
      getAccount: async () =>
        ({
          accountId: 'acct',
          discoverable: true,
          presence: 'nobody',
          registrationLock: true,
          devices: [{}],
        }) as never,
      setRegistrationLock: async (pin: string) => {
        calls.push(`lock ${pin}`);
      },
      clearRegistrationLock: async () => {
        calls.push('unlock');
      },
    };
    return { client, calls };
  }

  it('sets and clears the lock, and the account shows it', async () => {
    const { client, calls } = account();
    const { out, io: streams } = io();
    await accountCommand(client, ['lock'], { pin: '2468' }, streams);
    await accountCommand(client, ['unlock'], {}, streams);
    await accountCommand(client, [], {}, streams);
    assert.deepEqual(calls, ['lock 2468', 'unlock']);
    assert.match(out[0]!, /^Registration lock on:/);
    assert.match(out[0]!, /does not stop the server operator/);
    assert.match(out[1]!, /^Registration lock off:/);
    assert.match(out[2]!, /registration lock on; 1 device\(s\)\.$/);
  });

  it('asks for the PIN at a terminal; without one, or with a bad one, a usage error', async () => {
    const { client, calls } = account();
    await accountCommand(client, ['lock'], {}, io(async () => '97531').io);
    assert.deepEqual(calls, ['lock 97531']);
    await assert.rejects(accountCommand(client, ['lock'], {}, io().io), UsageError);
    await assert.rejects(
      accountCommand(client, ['lock'], { pin: 'x'.repeat(65) }, io().io),
      UsageError,
    );
    await assert.rejects(accountCommand(client, [], { pin: '2468' }, io().io), UsageError);
    await assert.rejects(accountCommand(client, ['frobnicate'], {}, io().io), UsageError);
  });
});

describe('parley register with a wrong code', () => {
  /** A client whose verification 'v1' takes code 654321, 5 attempts in all, as the server. */
  function verifying() {
    const sent: string[] = [];
    const tried: string[] = [];
    const client: Parameters<typeof registerCommand>[0] = {
      requestCode: async (number) => {
        sent.push(number);
        return { verificationId: 'v1', codeLength: 6 } as never;
      },
      register: async (input) => {
        tried.push(`${input.verificationId}:${input.code}`);
        if (input.code !== '654321') {
          throw new ParleyError('VERIFICATION_CODE_INCORRECT', {
            details: { attemptsLeft: 5 - tried.length },
          });
        }
        return {
          serverUrl: 's',
          accountId: 'acct',
          deviceId: 'dev',
          credential: 'c',
          discoverable: true,
          presence: 'nobody',
          existingAccount: false,
        };
      },
    };
    return { client, sent, tried };
  }

  it('at a terminal: says how many tries are left and asks again, on the same verification', async () => {
    const { client, sent, tried } = verifying();
    const { io: streams, notes, out } = io();
    const prompts: string[] = [];
    const code = await registerCommand(client, ['+14155550100'], VALUES, {
      ...streams,
      askCode: async (prompt) => {
        prompts.push(prompt);
        return '654321';
      },
    });
    assert.equal(code, 0);
    assert.deepEqual(sent, ['+14155550100'], 'one SMS only');
    assert.deepEqual(tried, ['v1:123456', 'v1:654321']);
    assert.deepEqual(notes, ['That code is not right (4 tries left).']);
    assert.deepEqual(prompts, ['Enter the 6-digit code sent by SMS: ']);
    assert.match(out[0]!, /^Registered/);
  });

  it('without a terminal: tells how to retry without another SMS, which then works', async () => {
    const { client, sent, tried } = verifying();
    const { io: streams } = io();
    await assert.rejects(
      registerCommand(client, ['+14155550100'], VALUES, streams),
      (e: unknown) =>
        e instanceof ParleyError &&
        e.code === 'VERIFICATION_CODE_INCORRECT' &&
        e.message.includes('(4 tries left)') &&
        e.message.includes('parley register +14155550100 --verification v1 --code CODE'),
    );
    const retried = await registerCommand(
      client,
      ['+14155550100'],
      { ...VALUES, verification: 'v1', code: '654321' },
      streams,
    );
    assert.equal(retried, 0);
    assert.deepEqual(sent, ['+14155550100'], 'the retry sent no SMS');
    assert.deepEqual(tried, ['v1:123456', 'v1:654321']);
  });
});

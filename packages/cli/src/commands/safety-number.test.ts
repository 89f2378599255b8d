import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import { UsageError } from '../usage.js';
import { digitRows, type SafetyNumberArgs, safetyNumberCommand } from './safety-number.js';

const BOB = 'Bob0123456789abcdefghi';
const GROUPS = Array.from({ length: 12 }, (_, i) => String(10000 + i * 1111).padStart(5, '0'));
const number = (state: { verified?: boolean; blocked?: boolean; changedAt?: string } = {}) => ({
  accountId: BOB,
  digits: GROUPS.join(''),
  groups: GROUPS,
  scannable: 'AQID',
  verified: state.verified ?? false,
  blocked: state.blocked ?? false,
  ...(state.changedAt ? { changedAt: state.changedAt } : {}),
});

function run(
  positionals: string[],
  values: SafetyNumberArgs['values'],
  state: Parameters<typeof number>[0] = {},
) {
  const calls: string[] = [];
  const out: string[] = [];
  const client: SafetyNumberArgs['client'] = {
    resolveContact: async (phone) => {
      calls.push(`resolve ${phone}`);
      return phone === '+14155550100'
        ? { phoneNumber: phone, status: 'on-parley', accountId: BOB }
        : ({ phoneNumber: phone, status: 'not-on-parley' } as never);
    },
    safetyNumber: async (id) => {
      calls.push(`show ${id}`);
      return number(state);
    },
    verifySafetyNumber: async (id, scanned) => {
      calls.push(`verify ${id} ${scanned}`);
      if (scanned === 'wrong') throw new ParleyError('SAFETY_NUMBER_CHANGED');
      return number({ ...state, verified: true, blocked: false });
    },
    unverifySafetyNumber: async (id) => {
      calls.push(`unverify ${id}`);
      return number({ ...state, verified: false });
    },
    acceptSafetyNumber: async (id) => {
      calls.push(`accept ${id}`);
      return number({ ...state, blocked: false });
    },
  };
  const result = safetyNumberCommand({
    client,
    positionals,
    values,
    out: (t) => out.push(t),
    drawQr: false,
  });
  return { result, calls, out };
}

describe('parley safety-number', () => {
  it('shows the 60 digits in 12 groups of 5, three rows of four, and what to do', async () => {
    const { result, calls, out } = run([`account:${BOB}`], {});
    assert.equal(await result, 0);
    assert.deepEqual(calls, [`show ${BOB}`]);
    assert.equal(out[0], `Safety number with account:${BOB}:`);
    assert.deepEqual(
      out.slice(1, 4),
      digitRows(GROUPS).map((r) => `  ${r}`),
    );
    assert.equal(
      out
        .slice(1, 4)
        .join(' ')
        .match(/\b\d{5}\b/g)!
        .join(''),
      GROUPS.join(''),
    );
    assert.match(out[4]!, /^Not verified\. .*--verify/);
    assert.match(out[5]!, /AQID$/);
  });

  it('takes a bare account id or a phone number (resolved by discovery)', async () => {
    assert.deepEqual((await awaitRun([BOB], {})).calls, [`show ${BOB}`]);
    assert.deepEqual((await awaitRun(['+14155550100'], {})).calls, [
      'resolve +14155550100',
      `show ${BOB}`,
    ]);
    const nobody = run(['+14155550199'], {});
    await assert.rejects(nobody.result, /not on Parley/);
  });

  it('--verify marks verified; with --scanned it compares their code', async () => {
    const compared = await awaitRun([BOB], { verify: true });
    assert.deepEqual(compared.calls, [`verify ${BOB} undefined`]);
    assert.match(compared.out[0]!, /is marked verified/);
    assert.match(compared.out.join('\n'), /^Verified: you compared/m);

    const scanned = await awaitRun([BOB], { verify: true, scanned: 'AQID' });
    assert.deepEqual(scanned.calls, [`verify ${BOB} AQID`]);
    assert.match(scanned.out[0]!, /^Their code matches/);

    await assert.rejects(
      run([BOB], { verify: true, scanned: 'wrong' }).result,
      (e: unknown) => e instanceof ParleyError && e.code === 'SAFETY_NUMBER_CHANGED',
    );
  });

  it('a changed key of a verified contact: says sending is paused; --accept resumes it', async () => {
    const blocked = await awaitRun([BOB], {}, { verified: true, blocked: true, changedAt: 'T1' });
    assert.match(blocked.out.join('\n'), /Changed on T1, .*sending to them is paused.*--accept/);
    const accepted = await awaitRun([BOB], { accept: true }, { blocked: true, changedAt: 'T1' });
    assert.deepEqual(accepted.calls, [`accept ${BOB}`]);
    assert.match(accepted.out[0]!, /sending to them resumes/);
    assert.match(accepted.out.join('\n'), /^Changed on T1\. Not verified/m);
  });

  it('--json prints the SDK’s answer', async () => {
    const { out } = await awaitRun([BOB], { json: true });
    assert.deepEqual(JSON.parse(out[0]!), number());
  });

  it('argument mistakes are usage errors', async () => {
    for (const [positionals, values] of [
      [[], {}],
      [[BOB, BOB], {}],
      [[BOB], { verify: true, accept: true }],
      [[BOB], { scanned: 'AQID' }],
      [['account:x'], {}],
    ] as const) {
      await assert.rejects(run([...positionals], values).result, UsageError);
    }
  });
});

async function awaitRun(...args: Parameters<typeof run>) {
  const r = run(...args);
  await r.result;
  return r;
}

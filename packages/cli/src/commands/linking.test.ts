import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '@parley/core';
import decodeQR from 'qr/decode.js';
import { UsageError } from '../usage.js';
import { type ApproveArgs, approveCommand, type LinkArgs, linkCommand } from './linking.js';

const QR = `parley-link:1:7K3M9Q2D:${'q'.repeat(43)}`;
const CODE = '7K3M-9Q2D-ABCD-EFGH-JKMN-PQRS';
const SESSION = {
  serverUrl: 'http://s',
  accountId: 'acct-0123456789abcdefgh',
  deviceId: 'dev-0123456789abcdefghi',
  credential: 'c',
  discoverable: false,
  presence: 'nobody' as const,
};

/** A new device's client whose link is approved when `approve` is called. */
function newDevice(registered: false | 'signed-in' | 'signed-out' = false) {
  const asked: { deviceName?: string; signal?: AbortSignal | undefined } = {};
  let approve: () => void = () => {};
  const client: LinkArgs['client'] = {
    registered: registered !== false,
    account: registered ? SESSION : undefined,
    getAccount: async () => {
      if (registered === 'signed-out') throw new ParleyError('UNAUTHENTICATED');
      return {} as never;
    },
    startLink: async ({ deviceName }) => {
      asked.deviceName = deviceName;
      return {
        linkId: 'l',
        handle: '7K3M9Q2D',
        qr: QR,
        code: CODE,
        expiresAt: '2026-01-01T00:10:00.000Z',
        wait: ({ signal } = {}) => {
          asked.signal = signal;
          return new Promise((resolve, reject) => {
            approve = () => resolve(SESSION);
            signal?.addEventListener('abort', () =>
              reject(new ParleyError('LINK_EXPIRED', { message: 'Linking was cancelled.' })),
            );
          });
        },
      };
    },
  };
  return { client, asked, approve: () => approve() };
}

function capture() {
  const out: string[] = [];
  const notes: string[] = [];
  return {
    out,
    notes,
    io: { out: (t: string) => out.push(t), note: (t: string) => notes.push(t) },
  };
}

/** Reads a QR code drawn by textQr back into its text (light modules are the blocks). */
function readTextQr(art: string): string {
  const halves: Record<string, readonly [number, number]> = {
    '█': [1, 1],
    '▀': [1, 0],
    '▄': [0, 1],
    ' ': [0, 0],
  };
  const grid: number[][] = [];
  for (const row of art.split('\n').filter(Boolean)) {
    const cells = [...row].map((c) => halves[c] ?? ([0, 0] as const));
    grid.push(
      cells.map((c) => c[0]),
      cells.map((c) => c[1]),
    );
  }
  const scale = 4;
  const width = grid[0]!.length * scale;
  const height = grid.length * scale;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = grid[Math.floor(y / scale)]![Math.floor(x / scale)] ? 255 : 0;
      data.fill(v, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return decodeQR({ width, height, data });
}

describe('parley link', () => {
  it('prints the code and the QR text, waits for approval, then names the account and device', async () => {
    const device = newDevice();
    const { out, notes, io } = capture();
    const done = linkCommand({
      client: device.client,
      values: { name: 'laptop' },
      ...io,
      signal: new AbortController().signal,
      drawQr: false,
    });
    // Waiting: what to type is already out.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, [`QR text: ${QR}`, `Code: ${CODE}`]);
    assert.equal(device.asked.deviceName, 'laptop');
    assert.match(notes.join('\n'), /parley devices approve CODE/);
    assert.match(notes.join('\n'), /Ctrl-C cancels/);
    device.approve();
    assert.equal(await done, 0);
    assert.match(
      out.at(-1)!,
      /^Linked: this device \("laptop"\) is device dev-0123456789abcdefghi of account acct-0123456789abcdefgh\./,
    );
  });

  it('draws a QR code that reads back as the link text', async () => {
    const device = newDevice();
    const { out, io } = capture();
    const done = linkCommand({
      client: device.client,
      values: {},
      ...io,
      signal: new AbortController().signal,
      drawQr: true,
    });
    await new Promise((r) => setImmediate(r));
    device.approve();
    await done;
    assert.equal(readTextQr(out[0]!), QR);
  });

  it('Ctrl-C (the signal) cancels the wait cleanly', async () => {
    const device = newDevice();
    const cancel = new AbortController();
    const { notes, io } = capture();
    const done = linkCommand({
      client: device.client,
      values: { json: true },
      ...io,
      signal: cancel.signal,
      drawQr: false,
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(device.asked.signal, cancel.signal);
    cancel.abort();
    assert.equal(await done, 130);
    assert.match(notes.at(-1)!, /Linking cancelled/);
  });

  it('refuses on a signed-in device, and links a signed-out one', async () => {
    const signedIn = newDevice('signed-in');
    const { io } = capture();
    const args = { values: {}, ...io, signal: new AbortController().signal, drawQr: false };
    await assert.rejects(
      linkCommand({ client: signedIn.client, ...args }),
      (e: unknown) => e instanceof UsageError && /is signed in to account/.test(e.message),
    );
    assert.equal(signedIn.asked.deviceName, undefined);

    const signedOut = newDevice('signed-out');
    const done = linkCommand({ client: signedOut.client, ...args });
    await new Promise((r) => setImmediate(r));
    signedOut.approve();
    assert.equal(await done, 0);
  });

  it('--json prints the codes, then the account and device, one JSON line each', async () => {
    const device = newDevice();
    const { out, io } = capture();
    const done = linkCommand({
      client: device.client,
      values: { json: true },
      ...io,
      signal: new AbortController().signal,
      drawQr: true,
    });
    await new Promise((r) => setImmediate(r));
    device.approve();
    await done;
    assert.deepEqual(
      out.map((l) => JSON.parse(l)),
      [
        { code: CODE, qr: QR, expiresAt: '2026-01-01T00:10:00.000Z' },
        { accountId: SESSION.accountId, deviceId: SESSION.deviceId },
      ],
    );
  });
});

describe('parley devices approve', () => {
  const request = {
    handle: '7K3M9Q2D',
    publicKey: new Uint8Array(32),
    deviceName: 'laptop',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T00:10:00.000Z',
    via: 'typed' as const,
  };

  function existingDevice() {
    const calls: string[] = [];
    const client: ApproveArgs['client'] = {
      inspectLink: async (text) => {
        calls.push(`inspect ${text}`);
        return request;
      },
      approveLink: async (r, options) => {
        calls.push(`approve ${r.handle} bringContacts=${options?.bringContacts}`);
        return {
          deviceId: 'new-device',
          conversations: 2,
          contactsBrought: options?.bringContacts ? 3 : 0,
        };
      },
    };
    return { client, calls };
  }

  it('shows the device, asks, connects, approves and says how many conversations it joined', async () => {
    const { client, calls } = existingDevice();
    const { out, notes, io } = capture();
    const questions: string[] = [];
    const code = await approveCommand({
      client,
      code: ['7K3M', '9Q2D-ABCD-EFGH-JKMN-PQRS'],
      values: {},
      ...io,
      ask: async (q) => {
        questions.push(q);
        return true;
      },
      connect: async () => {
        calls.push('connect');
      },
    });
    assert.equal(code, 0);
    assert.deepEqual(calls, [
      'inspect 7K3M 9Q2D-ABCD-EFGH-JKMN-PQRS',
      'connect',
      'approve 7K3M9Q2D bringContacts=false',
    ]);
    assert.match(notes[0]!, /"laptop" \(asked at 2026-01-01T00:00:00.000Z; the code typed matches/);
    assert.equal(questions.length, 1);
    assert.match(out[0]!, /^linked; added to 2 conversations/);
  });

  it('--yes does not ask; --bring-contacts hands the contacts over', async () => {
    const { client, calls } = existingDevice();
    const { notes, io } = capture();
    await approveCommand({
      client,
      code: [QR],
      values: { yes: true, 'bring-contacts': true },
      ...io,
      ask: async () => assert.fail('asked despite --yes'),
      connect: async () => {},
    });
    assert.equal(calls.at(-1), 'approve 7K3M9Q2D bringContacts=true');
    assert.equal(notes.at(-1), '3 contacts brought to it.');
  });

  it('a "no" links nothing', async () => {
    const { client, calls } = existingDevice();
    const { notes, io } = capture();
    const code = await approveCommand({
      client,
      code: [CODE],
      values: {},
      ...io,
      ask: async () => false,
      connect: async () => {},
    });
    assert.equal(code, 1);
    assert.equal(notes.at(-1), 'Not linked.');
    assert.ok(!calls.some((c) => c.startsWith('approve')));
  });

  it('needs a code; a code that does not check out is the SDK’s typed error', async () => {
    const { client } = existingDevice();
    const { io } = capture();
    const base = { values: { yes: true }, ...io, connect: async () => {} };
    await assert.rejects(approveCommand({ client, code: [], ...base }), UsageError);
    await assert.rejects(
      approveCommand({
        ...base,
        code: ['nope'],
        client: {
          ...client,
          inspectLink: async () => {
            throw new ParleyError('LINK_CODE_INVALID');
          },
        },
      }),
      (e: unknown) => e instanceof ParleyError && e.code === 'LINK_CODE_INVALID',
    );
  });
});

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerFrame } from '@parley/core';
import { type DeviceConnection, Hub } from './hub.js';

function connection(accountId: string, deviceId: string) {
  const frames: ServerFrame[] = [];
  const conn: DeviceConnection = {
    accountId,
    deviceId,
    wake() {},
    offer() {},
    push(frame) {
      frames.push(frame);
    },
    end() {},
  };
  return { conn, frames };
}

describe('hub: presence', () => {
  it('tells watchers when an account comes and goes, once per account, not per device', () => {
    const hub = new Hub();
    const watcher = connection('viewer01', 'viewerdev1');
    hub.attach(watcher.conn);
    hub.watch(watcher.conn, ['subject1']);
    const phone = connection('subject1', 'phone0001');
    const laptop = connection('subject1', 'laptop001');
    hub.attach(phone.conn);
    hub.attach(laptop.conn);
    hub.detach(phone.conn);
    hub.detach(laptop.conn);
    assert.deepEqual(
      watcher.frames.map((f) => (f.t === 'presence' ? f.online : null)),
      [false, true, false],
    );
  });

  it('does not take back a connection that closed while its subscription was checked', () => {
    const hub = new Hub();
    const watcher = connection('viewer01', 'viewerdev1');
    hub.attach(watcher.conn);
    hub.detach(watcher.conn);
    hub.watch(watcher.conn, ['subject1']);
    hub.attach(connection('subject1', 'phone0001').conn);
    assert.deepEqual(watcher.frames, []);
  });

  it('stops watchers at once when the subject hides', () => {
    const hub = new Hub();
    const watcher = connection('viewer01', 'viewerdev1');
    hub.attach(watcher.conn);
    const phone = connection('subject1', 'phone0001');
    hub.attach(phone.conn);
    hub.watch(watcher.conn, ['subject1']);
    hub.unwatchAccount('subject1');
    hub.detach(phone.conn);
    assert.deepEqual(
      watcher.frames.map((f) => (f.t === 'presence' ? f.online : null)),
      [true, false],
    );
  });
});

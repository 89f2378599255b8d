import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as core from './index.js';
import { deviceIdentity, deviceIdentityBytes, parseDeviceIdentity } from './protocol.js';
import * as serverOnly from './server.js';

describe('protocol constants', () => {
  const device = { accountId: 'acc12345', deviceId: 'dev-_6789' };

  it('writes a device identity and reads it back, as text and as bytes', () => {
    assert.equal(deviceIdentity(device), 'acc12345/dev-_6789');
    assert.deepEqual(parseDeviceIdentity(deviceIdentity(device)), device);
    assert.deepEqual(parseDeviceIdentity(deviceIdentityBytes(device)), device);
  });

  it('reads nothing from an identity that does not name a device', () => {
    for (const bad of ['', 'acc12345', 'acc12345/', '/dev12345', 'a/b', 'acc12345/dev12345/x']) {
      assert.equal(parseDeviceIdentity(bad), undefined, bad);
    }
    assert.equal(parseDeviceIdentity('acc 12345/dev12345'), undefined);
    assert.equal(parseDeviceIdentity(new Uint8Array([0xff, 0xfe])), undefined);
  });

  it('keeps the close codes in the application range, but for "going away"', () => {
    for (const [name, code] of Object.entries(core.CLOSE_CODES)) {
      if (name === 'serverClosing') assert.equal(code, 1001);
      else assert.ok(code >= 4000 && code <= 4999, name);
    }
    assert.equal(Object.isFrozen(core.CLOSE_CODES), true);
  });

  it('ships filter builders only on the server subpath, never in the browser-safe barrel', () => {
    for (const name of Object.keys(serverOnly)) {
      assert.equal(name in core, false, `${name} is on @parley/core`);
    }
    assert.equal(typeof core.MembershipFilter, 'function');
    assert.equal(typeof serverOnly.encodeFilter, 'function');
  });
});

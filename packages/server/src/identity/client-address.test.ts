import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddress } from './client-address.js';

describe('client address', () => {
  it('an IPv4 address is a client, its /24 a network; mapped IPv6 counts as IPv4', () => {
    assert.deepEqual(clientAddress('203.0.113.9'), {
      client: '203.0.113.9',
      network: '203.0.113.0/24',
    });
    assert.deepEqual(clientAddress('::ffff:203.0.113.9'), clientAddress('203.0.113.9'));
  });

  it('an IPv6 client is its /64, its network the /48, however the address is written', () => {
    const a = clientAddress('2001:db8:1:2:aaaa::1');
    assert.deepEqual(a, { client: '2001:db8:1:2::/64', network: '2001:db8:1::/48' });
    assert.deepEqual(clientAddress('2001:0DB8:0001:0002:ffff:0:0:9'), a);
    assert.equal(clientAddress('2001:db8:1:3::1').network, a.network);
    assert.equal(clientAddress('::1').client, '0:0:0:0::/64');
    assert.equal(clientAddress('64:ff9b::192.0.2.1').client, '64:ff9b:0:0::/64');
  });

  it('anything else is its own client and network', () => {
    assert.deepEqual(clientAddress('test'), { client: 'test', network: 'test' });
  });
});

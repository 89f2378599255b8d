/**
 * Test support for attachments: the endpoints as a client calls them (octet-stream bodies
 * included), a chunk of a blob as the server cuts it, and a conversation set up on the server
 * without real MLS (the server cannot read a Commit anyway).
 */

import { ATTACHMENT_LIMITS, type DeviceRef } from '@parley/core';
import type { TestDevice, TestServer } from './index.js';

const CHUNK = ATTACHMENT_LIMITS.chunkBytes;

/** The attachment endpoints as a client calls them, octet-stream bodies included. */
export function attachmentCalls(baseUrl: string) {
  const send = async (
    device: TestDevice,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown>; bytes?: Uint8Array }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${device.credential}` };
    let payload: Uint8Array | string | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(new URL(path, baseUrl), { method, headers, body: payload });
    if (response.headers.get('content-type') === 'application/octet-stream') {
      return {
        status: response.status,
        json: {},
        bytes: new Uint8Array(await response.arrayBuffer()),
      };
    }
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : {} };
  };
  return {
    send,
    create: (d: TestDevice, groupId: string, size: number) =>
      send(d, 'POST', '/v1/attachments', { groupId, size }),
    put: (d: TestDevice, id: string, index: number, bytes: Uint8Array) =>
      send(d, 'PUT', `/v1/attachments/${id}/chunks/${index}`, bytes),
    status: (d: TestDevice, id: string) => send(d, 'GET', `/v1/attachments/${id}/upload`),
    complete: (d: TestDevice, id: string) => send(d, 'POST', `/v1/attachments/${id}/complete`),
    get: (d: TestDevice, id: string) => send(d, 'GET', `/v1/attachments/${id}`),
    fetched: (d: TestDevice, id: string) => send(d, 'POST', `/v1/attachments/${id}/fetched`),
  };
}

/** Chunk `index` of `bytes` as the server cuts it. */
export const chunkOf = (bytes: Uint8Array, index: number) =>
  bytes.subarray(index * CHUNK, (index + 1) * CHUNK);

/** A conversation of `members`, created by the first (the server's view of it; no real MLS). */
export async function conversation(t: TestServer, groupId: string, members: TestDevice[]) {
  const ref = (d: DeviceRef) => ({ accountId: d.accountId, deviceId: d.deviceId });
  const [creator, ...others] = members;
  await t.server.services.groups.commit(ref(creator!), groupId, {
    epoch: 0,
    commit: 'AAAA',
    welcome: 'AAAA',
    add: others.map((d, i) => ({ deviceId: d.deviceId, keyPackageId: `kp-${groupId}-${i}` })),
    remove: [],
  });
}

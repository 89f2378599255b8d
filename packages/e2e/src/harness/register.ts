/**
 * A client registered through the malicious operator's proxy, as the operator's tests need one: a
 * file store of its own (and the `fetch` it is given), discoverable, presence 'nobody', the SMS code read from the server.
 */

import { join } from 'node:path';
import { FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { MaliciousOperator } from './malicious-operator.js';

export async function registerThrough(
  operator: MaliciousOperator,
  root: string,
  name: string,
  number: string,
  fetch?: typeof globalThis.fetch,
): Promise<ParleyClient> {
  const client = await ParleyClient.open({
    serverUrl: operator.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
    ...(fetch ? { fetch } : {}),
  });
  const { verificationId } = await client.requestCode(number);
  await client.register({
    verificationId,
    code: await operator.server.codeFor(verificationId),
    discoverable: true,
    presence: 'nobody',
    deviceName: name,
  });
  return client;
}

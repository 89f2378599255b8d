/**
 * A client registered through the malicious operator's proxy, as the operator's tests need one: a
 * file store of its own, discoverable, presence 'nobody', the SMS code read from the server.
 */

import { join } from 'node:path';
import { FileStore, nodeSocket, ParleyClient } from '@parley/client/node';
import type { MaliciousOperator } from './malicious-operator.js';

export async function registerThrough(
  operator: MaliciousOperator,
  root: string,
  name: string,
  number: string,
): Promise<ParleyClient> {
  const client = await ParleyClient.open({
    serverUrl: operator.url,
    store: new FileStore(join(root, name)),
    socket: nodeSocket,
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

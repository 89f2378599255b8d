/** The Node WebSocket for the SDK: the `ws` package (Node 20 has no global WebSocket). */

import WebSocket from 'ws';
import type { SocketFactory } from './connection.js';

/** Opens the device's WebSocket with `ws`. Exported from '@parley/client/node' only. */
export const nodeSocket: SocketFactory = (url) =>
  new WebSocket(url, { maxPayload: 4 * 1024 * 1024 }) as unknown as ReturnType<SocketFactory>;

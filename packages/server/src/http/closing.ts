/**
 * What the HTTP side does while the server shuts down. Requests that arrive are refused with 503:
 * a browser's page load gets a small page a person can read (the app reloads by itself), an API
 * call the catalog's SERVICE_UNAVAILABLE; every answer closes its connection. Connections with
 * nothing in flight — kept-alive ones and those a browser opens ahead of need and never uses —
 * are closed at once, so they cannot hold the shutdown until its deadline; requests in flight
 * finish, and WebSockets are drained by their own close (1001).
 */

import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { ParleyError } from '@parley/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SECURITY_HEADERS } from './web-app.js';

const RETRY_SECONDS = 5;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${RETRY_SECONDS}">
<title>Parley is restarting</title>
</head>
<body>
<main>
<h1>Parley is restarting</h1>
<p>This server is shutting down or restarting. This page tries again by itself in a few seconds.</p>
</main>
</body>
</html>
`;

/** A browser loading a page (not a script's fetch, which wants the JSON error). */
function isPageLoad(request: FastifyRequest): boolean {
  const mode = request.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return request.method === 'GET' && /\btext\/html\b/.test(request.headers.accept ?? '');
}

export interface Closing {
  /** Marks the server as closing and closes the connections with nothing in flight. */
  begin(): void;
  /** Closes the connections with nothing in flight (again: some may have opened since). */
  closeIdle(): void;
}

/**
 * Installs the refusal and the connection tracking on `app` (built with `return503OnClosing:
 * false`, so that this module, not Fastify's bare JSON, answers).
 */
export function handleClosing(app: FastifyInstance): Closing {
  let closing = false;
  const connections = new Set<Socket>();
  /** Requests being handled on each connection. */
  const busy = new Map<Socket, number>();
  /** Connections taken over by a WebSocket: drained by the socket's own shutdown. */
  const upgraded = new WeakSet<Socket>();

  // Over TLS, requests run on the TLS socket, which 'secureConnection' hands over ('connection'
  // gives the TCP socket beneath it).
  const event = app.server instanceof TlsServer ? 'secureConnection' : 'connection';
  app.server.on(event, (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      busy.delete(socket);
    });
  });

  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket;
    if (request.headers.upgrade) upgraded.add(socket);
    else {
      busy.set(socket, (busy.get(socket) ?? 0) + 1);
      reply.raw.once('close', () => {
        const left = (busy.get(socket) ?? 1) - 1;
        if (left > 0) busy.set(socket, left);
        else busy.delete(socket);
      });
    }
    if (!closing) return;
    reply.header('retry-after', String(RETRY_SECONDS));
    if (isPageLoad(request)) {
      reply.headers(SECURITY_HEADERS);
      reply.header('cache-control', 'no-store');
      return reply.status(503).type('text/html; charset=utf-8').send(PAGE);
    }
    throw new ParleyError('SERVICE_UNAVAILABLE', {
      message: 'The server is shutting down; retry in a few seconds (another node may answer).',
    });
  });
  // Once closing, answers close their connection: a kept-alive one would hold the shutdown up.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  const closeIdle = () => {
    for (const socket of connections) {
      if (!upgraded.has(socket) && !busy.has(socket)) socket.destroy();
    }
  };
  return {
    begin() {
      closing = true;
      closeIdle();
    },
    closeIdle,
  };
}

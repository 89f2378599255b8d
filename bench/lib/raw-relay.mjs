// The baseline for the messaging section: a bare `ws` relay with no storage, no authentication and
// no validation — the least a relay can do. Run as its own process (like the Parley server) so both
// pay for the same process boundary. It prints "raw relay listening on <port>" when ready.
//   {t:'hello', name}                 → registers the connection under `name`
//   {t:'send', id, to, payload}       → {t:'deliver', id, payload} to `to`, {t:'stored', id} back

import { WebSocketServer } from 'ws';

const byName = new Map();
const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 });
server.on('connection', (socket) => {
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.t === 'hello') {
      byName.set(frame.name, socket);
      socket.send(JSON.stringify({ t: 'ready' }));
    } else if (frame.t === 'send') {
      byName
        .get(frame.to)
        ?.send(JSON.stringify({ t: 'deliver', id: frame.id, payload: frame.payload }));
      socket.send(JSON.stringify({ t: 'stored', id: frame.id }));
    }
  });
});
server.on('listening', () => {
  process.stdout.write(`raw relay listening on ${server.address().port}\n`);
});

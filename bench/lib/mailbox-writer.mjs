// One writer process of bench/writers.mjs: a node's mailbox without its sockets. It imports the
// Mailbox and the database code from a server build (`root`/packages/server/dist: this checkout or
// a baseline one), opens the database the way a node does (its migrations, its pool), and keeps
// one send outstanding per sender device of its own conversations, as connected devices would.
// The mailbox's real work runs: duplicate check, group lookup, queue and idempotency writes,
// and, for what it hands to the realtime port, acknowledgements that delete the entries and queue
// receipts to the senders (acknowledged in turn). The realtime port itself (sockets, Redis) is
// the part left out: its offer() here acknowledges instead of pushing to a socket.
//
// Forked by bench/writers.mjs with an IPC channel. Messages in: {t:'init', …}, {t:'go'},
// {t:'mark'}, {t:'stop'}. Out: {t:'ready'}, {t:'mark', stored, refused, acked},
// {t:'done', stored, refused, errors}.

import { randomBytes } from 'node:crypto';

const { isRetryable, retryDelayMs } = await import(
  new URL('../../scripts/load.mjs', import.meta.url).href
);

const counts = { stored: 0, refused: 0, acked: 0 };
const errors = {};
let sending = false;
let mailbox;
let db;
/** Sends begun and not yet answered (a refused one is resent under the same id). */
let outstanding = 0;
let wakeStopped;
/** Set on stop: what is handed over after that is left in the queue, not acknowledged. */
let closing = false;

async function init({ root, storage, pairs }) {
  const serverDist = new URL('packages/server/dist/', `file://${root.replace(/\/?$/, '/')}`);
  const { Mailbox } = await import(new URL('messaging/mailbox.js', serverDist).href);
  const { openDatabase } = await import(new URL('infra/db/database.js', serverDist).href);
  db = await openDatabase(storage);
  const accountOf = new Map(
    pairs.flatMap((p) => [
      [p.sender.deviceId, p.sender.accountId],
      [p.recipient.deviceId, p.recipient.accountId],
    ]),
  );
  /** Seqs handed over per device, acknowledged on the next turn (as a client batches acks). */
  let toAck = new Map();
  const ackSoon = (deviceId, seq) => {
    if (closing) return;
    if (toAck.size === 0) {
      setImmediate(() => {
        const batch = toAck;
        toAck = new Map();
        for (const [device, seqs] of batch) {
          mailbox.ack({ accountId: accountOf.get(device), deviceId: device }, seqs).then(
            (n) => {
              counts.acked += n;
            },
            (error) => count(error),
          );
        }
      });
    }
    const seqs = toAck.get(deviceId) ?? [];
    seqs.push(seq);
    toAck.set(deviceId, seqs);
  };
  const port = {
    sharedQueues: true,
    offer(entries) {
      for (const { deviceId, frame } of entries) {
        if (accountOf.has(deviceId)) ackSoon(deviceId, frame.seq);
      }
    },
  };
  // Whatever else the port offers (waking sockets, relaying, presence) has no socket to reach
  // here: a method that does nothing, so a build whose port grew still runs.
  const realtime = new Proxy(port, {
    get: (target, name) => (name in target ? target[name] : () => {}),
  });
  mailbox = new Mailbox(db, realtime, 24 * 3600_000, Date.now);
  return pairs;
}

function count(error) {
  const code = error?.code ?? error?.message ?? String(error);
  errors[code] = (errors[code] ?? 0) + 1;
}

/** One sender: sends, waits for "stored", sends the next, until stopped. */
async function sender(pair, prefix, payload) {
  let n = 0;
  while (sending) {
    const frame = {
      t: 'send',
      id: `${prefix}${(n++).toString(36)}`,
      groupId: pair.groupId,
      epoch: 1,
      payload,
    };
    outstanding++;
    for (let round = 1; ; round++) {
      try {
        const { duplicate } = await mailbox.store(pair.sender, frame);
        if (!duplicate) counts.stored++;
        break;
      } catch (error) {
        if (!isRetryable(error?.code)) {
          count(error);
          break;
        }
        // Back-pressure: the same send again later, as the SDK's outbox does.
        counts.refused++;
        await new Promise((r) => setTimeout(r, retryDelayMs(round, error.retryAfterMs)));
      }
    }
    outstanding--;
  }
  if (outstanding === 0) wakeStopped?.();
}

let pairs;
process.on('message', async (message) => {
  try {
    if (message.t === 'init') {
      pairs = await init(message);
      process.send({ t: 'ready' });
    } else if (message.t === 'go') {
      sending = true;
      const payload = randomBytes(message.payloadBytes).toString('base64url');
      pairs.forEach((pair, i) => {
        void sender(pair, `${randomBytes(6).toString('base64url')}${i}-`, payload);
      });
    } else if (message.t === 'mark') {
      process.send({ t: 'mark', ...counts });
    } else if (message.t === 'stop') {
      const stopped = new Promise((resolve) => {
        wakeStopped = resolve;
      });
      sending = false;
      if (outstanding > 0) await stopped;
      closing = true;
      await mailbox.idle();
      await db.destroy();
      process.send({ t: 'done', ...counts, errors });
      process.disconnect();
    }
  } catch (error) {
    process.stderr.write(`[writer ${process.pid}] ${error?.stack ?? error}\n`);
    process.exit(1);
  }
});

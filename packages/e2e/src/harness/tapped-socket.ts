/**
 * Test support: a device WebSocket with a tap on what arrives — the test sees each incoming frame
 * line (and may drop it, or stop the message there, e.g. after closing the socket itself) and each
 * close code — while the SDK above sees an ordinary socket.
 */

import type { SocketLike } from '@parley/client/node';
import { nodeSocket } from '@parley/client/node';

export interface SocketTap {
  /** Each frame line as it arrives: `true` passes it on, `false` drops it, `'stop'` drops the rest. */
  frame?: (line: string, inner: SocketLike) => boolean | 'stop';
  close?: (code: number) => void;
}

export function tappedSocket(url: string, tap: SocketTap): SocketLike {
  const inner = nodeSocket(url);
  const outer: SocketLike = {
    get readyState() {
      return inner.readyState;
    },
    send: (data) => inner.send(data),
    close: (code, reason) => inner.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  inner.onopen = (e) => outer.onopen?.(e);
  inner.onerror = (e) => outer.onerror?.(e);
  inner.onclose = (e) => {
    tap.close?.(e.code);
    outer.onclose?.(e);
  };
  inner.onmessage = (e) => {
    const kept: string[] = [];
    for (const line of String(e.data).split('\n')) {
      const verdict = tap.frame ? tap.frame(line, inner) : true;
      if (verdict === 'stop') return;
      if (verdict) kept.push(line);
    }
    outer.onmessage?.({ data: kept.join('\n') });
  };
  return outer;
}

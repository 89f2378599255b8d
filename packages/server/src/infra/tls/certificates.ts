/**
 * The server's own TLS certificate (PARLEY_TLS_CERT, PARLEY_TLS_KEY): read and checked at start,
 * then watched, so a renewed certificate (certbot, a mounted secret) is taken without a restart.
 * A reload replaces the secure context of the listening server (tls.Server.setSecureContext):
 * connections already open keep theirs and stay open; new handshakes get the new certificate. A
 * pair that does not load (a key that does not match, a file half written) leaves the old one in
 * place and is tried again at the next change.
 */

import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import { ConfigError } from '../../config/env.js';

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

/** Reads the pair and checks that it makes a secure context (the key matches the certificate). */
export function loadCertificatePair(certPath: string, keyPath: string): CertificatePair {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certPath);
  } catch {
    throw new ConfigError(`PARLEY_TLS_CERT: cannot read ${certPath}.`);
  }
  try {
    key = readFileSync(keyPath);
  } catch {
    throw new ConfigError(
      `PARLEY_TLS_KEY: cannot read ${keyPath} (it must be readable by the server's user).`,
    );
  }
  try {
    new X509Certificate(cert);
  } catch {
    throw new ConfigError(`PARLEY_TLS_CERT: ${certPath} is not a PEM certificate.`);
  }
  try {
    createSecureContext({ cert, key });
  } catch {
    throw new ConfigError(
      `PARLEY_TLS_KEY: ${keyPath} is not the PEM private key of the certificate in ${certPath}.`,
    );
  }
  return { cert, key };
}

/** The serial number of the leaf certificate of a PEM chain (what a reload reports). */
export function leafSerial(cert: Buffer): string {
  return new X509Certificate(cert).serialNumber;
}

export interface CertificateEvents {
  /** A new pair is in use; its leaf's serial number. */
  reload: [serial: string];
  /** A change that did not load; the old pair stays. */
  rejected: [reason: string];
}

/**
 * Watches the two files (by polling their status, which also sees a symlink or a mounted secret
 * swapped underneath) and puts each pair that loads into `server`.
 */
export class CertificateReloader extends EventEmitter<CertificateEvents> {
  private readonly watched: [string, (now: Stats, before: Stats) => void][] = [];
  private serial: string;

  constructor(
    private readonly server: TlsServer,
    private readonly certPath: string,
    private readonly keyPath: string,
    initial: CertificatePair,
    intervalMs = 1_000,
  ) {
    super();
    this.serial = leafSerial(initial.cert);
    for (const path of [certPath, keyPath]) {
      const listener = (now: Stats, before: Stats) => {
        if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) {
          this.reload();
        }
      };
      watchFile(path, { interval: intervalMs, persistent: false }, listener);
      this.watched.push([path, listener]);
    }
  }

  /** The serial number of the certificate new connections get. */
  get currentSerial(): string {
    return this.serial;
  }

  reload(): void {
    let pair: CertificatePair;
    try {
      pair = loadCertificatePair(this.certPath, this.keyPath);
    } catch (error) {
      this.emit('rejected', error instanceof Error ? error.message : String(error));
      return;
    }
    const serial = leafSerial(pair.cert);
    // Both files change in a renewal: the second change finds the pair already loaded.
    if (serial === this.serial) return;
    this.server.setSecureContext({ cert: pair.cert, key: pair.key });
    this.serial = serial;
    this.emit('reload', serial);
  }

  stop(): void {
    for (const [path, listener] of this.watched) unwatchFile(path, listener);
    this.watched.length = 0;
  }
}

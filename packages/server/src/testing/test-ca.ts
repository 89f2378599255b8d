/**
 * Test support: a certificate authority of the test's own, made with the `openssl` command (Node's
 * crypto makes keys but not certificates), so TLS is tested as clients see it — a chain to a CA
 * they trust — and never by turning certificate checks off.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export interface TestCa {
  /** The CA certificate (PEM), for clients to trust. */
  caPem: string;
  /**
   * A new key and a certificate for localhost and 127.0.0.1 with this serial (hex digits) and
   * common name (a client that sees no serial, a browser, tells certificates apart by it).
   */
  issue(serialHex: string, commonName?: string): { certPem: string; keyPem: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'parley-ca-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Parley Test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'leaf.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  return {
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    issue(serialHex, commonName = 'localhost') {
      const name = `leaf-${serialHex}`;
      openssl(
        [
          'req',
          ...ec,
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.csr`,
          '-subj',
          `/CN=${commonName}`,
        ],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-set_serial',
          `0x${serialHex}`,
          '-days',
          '2',
          '-out',
          `${name}.pem`,
          '-extfile',
          'leaf.ext',
        ],
        dir,
      );
      // The chain as servers present it (certbot's fullchain.pem): the leaf, then the CA.
      return {
        certPem: `${readFileSync(join(dir, `${name}.pem`), 'utf8')}${readFileSync(join(dir, 'ca.pem'), 'utf8')}`,
        keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
      };
    },
  };
}

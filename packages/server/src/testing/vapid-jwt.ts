/**
 * Checks a push request's VAPID authorization the way a push service does (RFC 8292), written for
 * the tests with node:crypto only:
 *
 * - §3: `Authorization: vapid t=<JWT>, k=<public key>`; k is the uncompressed P-256 point,
 *   base64url, and the JWT's signature must verify against it.
 * - §2: the JWT is ES256 (RFC 7515/7518: the signature is r ‖ s, 64 bytes), its `aud` is the
 *   origin of the push resource, its `exp` no more than 24 hours ahead (and not past), and it
 *   SHOULD carry a `sub` (a mailto: or https: contact): required here.
 */

import { createPublicKey, verify } from 'node:crypto';

export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

/** The claims and the key, if the header is valid for `origin` at `now`; throws saying why not. */
export function verifyVapid(
  authorization: string | undefined,
  origin: string,
  now = Date.now(),
): { claims: VapidClaims; publicKey: string } {
  const match = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!match) throw new Error('no vapid Authorization header');
  const params = new Map<string, string>();
  for (const part of match[1]!.split(',')) {
    const [name, ...rest] = part.trim().split('=');
    params.set(name!.trim().toLowerCase(), rest.join('=').trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) throw new Error('the header needs both t= and k=');
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('k is not an uncompressed P-256 key');
  const [head, payload, signature] = token.split('.');
  if (!head || !payload || !signature) throw new Error('t is not a JWS compact serialization');
  const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string };
  if (header.alg !== 'ES256') throw new Error(`alg is ${header.alg}, not ES256`);
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = Buffer.from(`${head}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  if (sig.length !== 64 || !verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig)) {
    throw new Error('the JWT signature does not verify against k');
  }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Partial<VapidClaims>;
  if (claims.aud !== origin) throw new Error(`aud is ${claims.aud}, not ${origin}`);
  const nowSeconds = Math.floor(now / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) throw new Error('exp has passed');
  if (claims.exp > nowSeconds + 24 * 3600) throw new Error('exp is more than 24 hours ahead');
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    throw new Error('sub is missing or not a mailto: or https: contact');
  }
  return { claims: claims as VapidClaims, publicKey: k };
}

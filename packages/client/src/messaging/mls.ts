/**
 * The SDK's use of MLS (RFC 9420, `ts-mls`, cipher suite 1: X25519, AES-128-GCM, SHA-256,
 * Ed25519). Everything here is a thin, typed layer over the library: one signature key per device,
 * KeyPackages made with it, groups created, joined, committed to and used for application
 * messages, and group state encoded to bytes for the store. ts-mls loads on first use, so a client
 * that never opens a conversation never downloads it.
 */

import {
  type DeviceRef,
  deviceIdentityBytes,
  fromBase64Url,
  MLS_CIPHER_SUITE,
  ParleyError,
  parseDeviceIdentity,
  toBase64Url,
} from '@parley/core';
import type {
  CiphersuiteImpl,
  ClientConfig,
  ClientState,
  KeyPackage,
  MLSMessage,
  PrivateKeyPackage,
  Proposal,
  Welcome,
} from 'ts-mls';

type TsMls = typeof import('ts-mls');

interface Loaded {
  mls: TsMls;
  verifyKeyPackage: (kp: KeyPackage, s: CiphersuiteImpl['signature']) => Promise<boolean>;
  impl: CiphersuiteImpl;
  config: ClientConfig;
}

let loading: Promise<Loaded> | undefined;

export function loadMls(): Promise<Loaded> {
  loading ??= (async () => {
    const mls = await import('ts-mls');
    const { verifyKeyPackage } = await import('ts-mls/keyPackage.js');
    const impl = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(MLS_CIPHER_SUITE));
    const config: ClientConfig = {
      keyRetentionConfig: mls.defaultKeyRetentionConfig,
      lifetimeConfig: mls.defaultLifetimeConfig,
      keyPackageEqualityConfig: mls.defaultKeyPackageEqualityConfig,
      paddingConfig: mls.defaultPaddingConfig,
      authService: {
        // A member's credential must name a Parley device ("<accountId>/<deviceId>"); the
        // server checked at upload that a device publishes KeyPackages only in its own name.
        async validateCredential(credential) {
          return (
            credential.credentialType === 'basic' &&
            parseDeviceIdentity(credential.identity) !== undefined
          );
        },
      },
    };
    return { mls, impl, config, verifyKeyPackage };
  })();
  return loading;
}

/** The device's long-term signature key pair, as stored. */
export interface SignatureKeys {
  publicKey: string;
  signKey: string;
}

/** A KeyPackage this device made, with the private keys it needs to join by it. */
export interface OwnKeyPackage {
  id: string;
  keyPackage: string;
  initPrivateKey: string;
  hpkePrivateKey: string;
  lastResort: boolean;
}

const mlsError = (cause: unknown, what: string) =>
  new ParleyError('MLS_FAILED', { cause, details: { what } });

export async function newSignatureKeys(): Promise<SignatureKeys> {
  const { impl } = await loadMls();
  const pair = await impl.signature.keygen();
  return { publicKey: toBase64Url(pair.publicKey), signKey: toBase64Url(pair.signKey) };
}

function keyPair(keys: SignatureKeys) {
  return { publicKey: fromBase64Url(keys.publicKey)!, signKey: fromBase64Url(keys.signKey)! };
}

export async function newKeyPackage(
  device: DeviceRef,
  keys: SignatureKeys,
  id: string,
  lastResort: boolean,
): Promise<OwnKeyPackage> {
  const { mls, impl } = await loadMls();
  const made = await mls.generateKeyPackageWithKey(
    { credentialType: 'basic', identity: deviceIdentityBytes(device) },
    mls.defaultCapabilities(),
    mls.defaultLifetime,
    [],
    keyPair(keys),
    impl,
  );
  return {
    id,
    keyPackage: toBase64Url(
      mls.encodeMlsMessage({
        keyPackage: made.publicPackage,
        wireformat: 'mls_key_package',
        version: 'mls10',
      }),
    ),
    initPrivateKey: toBase64Url(made.privatePackage.initPrivateKey),
    hpkePrivateKey: toBase64Url(made.privatePackage.hpkePrivateKey),
    lastResort,
  };
}

function decode(mls: TsMls, b64: string, what: string): MLSMessage {
  const bytes = fromBase64Url(b64);
  const decoded = bytes ? mls.decodeMlsMessage(bytes, 0) : undefined;
  if (!decoded) throw new ParleyError('MLS_FAILED', { details: { what: `decode ${what}` } });
  return decoded[0];
}

/** Decodes a claimed KeyPackage and checks it belongs to the device the server said it does. */
export async function peerKeyPackage(b64: string, device: DeviceRef): Promise<KeyPackage> {
  const { mls, impl, verifyKeyPackage } = await loadMls();
  const message = decode(mls, b64, 'KeyPackage');
  if (message.wireformat !== 'mls_key_package') throw mlsError(undefined, 'not a KeyPackage');
  const kp = message.keyPackage;
  const who =
    kp.leafNode.credential.credentialType === 'basic'
      ? parseDeviceIdentity(kp.leafNode.credential.identity)
      : undefined;
  if (
    kp.cipherSuite !== MLS_CIPHER_SUITE ||
    who?.accountId !== device.accountId ||
    who.deviceId !== device.deviceId ||
    !(await verifyKeyPackage(kp, impl.signature))
  ) {
    throw new ParleyError('MLS_FAILED', {
      details: { what: 'a claimed KeyPackage does not belong to its device', device },
    });
  }
  return kp;
}

function privateOf(own: OwnKeyPackage, keys: SignatureKeys): PrivateKeyPackage {
  return {
    initPrivateKey: fromBase64Url(own.initPrivateKey)!,
    hpkePrivateKey: fromBase64Url(own.hpkePrivateKey)!,
    signaturePrivateKey: fromBase64Url(keys.signKey)!,
  };
}

export async function encodeState(state: ClientState): Promise<string> {
  const { mls } = await loadMls();
  return toBase64Url(mls.encodeGroupState(state));
}

export async function decodeState(b64: string): Promise<ClientState> {
  const { mls, config } = await loadMls();
  const bytes = fromBase64Url(b64);
  const decoded = bytes ? mls.decodeGroupState(bytes, 0) : undefined;
  if (!decoded) throw new ParleyError('MLS_FAILED', { details: { what: 'stored group state' } });
  return { ...decoded[0], clientConfig: config };
}

export function epochOf(state: ClientState): number {
  return Number(state.groupContext.epoch);
}

/** The devices in the group, by leaf. */
export function membersOf(state: ClientState): Array<DeviceRef & { leaf: number }> {
  const out: Array<DeviceRef & { leaf: number }> = [];
  state.ratchetTree.forEach((node, index) => {
    if (node?.nodeType !== 'leaf' || node.leaf.credential.credentialType !== 'basic') return;
    const who = parseDeviceIdentity(node.leaf.credential.identity);
    if (who) out.push({ ...who, leaf: index / 2 });
  });
  return out;
}

export async function createGroup(
  groupId: string,
  device: DeviceRef,
  keys: SignatureKeys,
): Promise<ClientState> {
  const { mls, impl, config } = await loadMls();
  const own = await mls.generateKeyPackageWithKey(
    { credentialType: 'basic', identity: deviceIdentityBytes(device) },
    mls.defaultCapabilities(),
    mls.defaultLifetime,
    [],
    keyPair(keys),
    impl,
  );
  return mls.createGroup(
    fromBase64Url(groupId)!,
    own.publicPackage,
    own.privatePackage,
    [],
    impl,
    config,
  );
}

export interface Committed {
  state: ClientState;
  commit: string;
  welcome: string | undefined;
}

/** A Commit adding KeyPackages and removing leaves; the ratchet tree rides in the Welcome. */
export async function commit(
  state: ClientState,
  change: { add?: KeyPackage[]; removeLeaves?: number[] },
): Promise<Committed> {
  const { mls, impl } = await loadMls();
  const proposals: Proposal[] = [
    ...(change.add ?? []).map(
      (keyPackage): Proposal => ({ proposalType: 'add', add: { keyPackage } }),
    ),
    ...(change.removeLeaves ?? []).map(
      (removed): Proposal => ({ proposalType: 'remove', remove: { removed } }),
    ),
  ];
  try {
    const result = await mls.createCommit(
      { state, cipherSuite: impl },
      { extraProposals: proposals, ratchetTreeExtension: true },
    );
    return {
      state: result.newState,
      commit: toBase64Url(mls.encodeMlsMessage(result.commit)),
      welcome: result.welcome
        ? toBase64Url(
            mls.encodeMlsMessage({
              welcome: result.welcome,
              wireformat: 'mls_welcome',
              version: 'mls10',
            }),
          )
        : undefined,
    };
  } catch (cause) {
    throw mlsError(cause, 'create commit');
  }
}

export async function joinByWelcome(
  welcomeB64: string,
  own: OwnKeyPackage,
  keys: SignatureKeys,
): Promise<ClientState> {
  const { mls, impl, config } = await loadMls();
  const message = decode(mls, welcomeB64, 'Welcome');
  if (message.wireformat !== 'mls_welcome') throw mlsError(undefined, 'not a Welcome');
  const kpMessage = decode(mls, own.keyPackage, 'own KeyPackage');
  if (kpMessage.wireformat !== 'mls_key_package') throw mlsError(undefined, 'own KeyPackage');
  try {
    return await mls.joinGroup(
      message.welcome as Welcome,
      kpMessage.keyPackage,
      privateOf(own, keys),
      mls.emptyPskIndex,
      impl,
      undefined,
      undefined,
      config,
    );
  } catch (cause) {
    throw mlsError(cause, 'join by Welcome');
  }
}

/** Applies a Commit (or a proposal) from another member. */
export async function processHandshake(state: ClientState, b64: string): Promise<ClientState> {
  const { mls, impl } = await loadMls();
  const message = decode(mls, b64, 'Commit');
  try {
    if (message.wireformat === 'mls_private_message') {
      const result = await mls.processPrivateMessage(
        state,
        message.privateMessage,
        mls.emptyPskIndex,
        impl,
      );
      return result.newState;
    }
    if (message.wireformat === 'mls_public_message') {
      const result = await mls.processPublicMessage(
        state,
        message.publicMessage,
        mls.emptyPskIndex,
        impl,
      );
      return result.newState;
    }
  } catch (cause) {
    throw mlsError(cause, 'process commit');
  }
  throw mlsError(undefined, `unexpected ${message.wireformat}`);
}

export async function encrypt(
  state: ClientState,
  plaintext: Uint8Array,
): Promise<{ state: ClientState; payload: string }> {
  const { mls, impl } = await loadMls();
  try {
    const result = await mls.createApplicationMessage(state, plaintext, impl);
    return {
      state: result.newState,
      payload: toBase64Url(
        mls.encodeMlsMessage({
          privateMessage: result.privateMessage,
          wireformat: 'mls_private_message',
          version: 'mls10',
        }),
      ),
    };
  } catch (cause) {
    throw mlsError(cause, 'encrypt');
  }
}

export async function decrypt(
  state: ClientState,
  payload: string,
): Promise<{ state: ClientState; plaintext: Uint8Array }> {
  const { mls, impl } = await loadMls();
  const message = decode(mls, payload, 'application message');
  if (message.wireformat !== 'mls_private_message') throw mlsError(undefined, 'not private');
  let result: Awaited<ReturnType<TsMls['processPrivateMessage']>>;
  try {
    result = await mls.processPrivateMessage(
      state,
      message.privateMessage,
      mls.emptyPskIndex,
      impl,
    );
  } catch (cause) {
    throw mlsError(cause, 'decrypt');
  }
  if (result.kind !== 'applicationMessage') throw mlsError(undefined, 'not an application message');
  return { state: result.newState, plaintext: result.message };
}

/** A per-epoch key for ephemeral signals, from the MLS exporter (RFC 9420 §8.5). */
export async function signalKey(state: ClientState): Promise<Uint8Array> {
  const { mls, impl } = await loadMls();
  return mls.mlsExporter(
    state.keySchedule.exporterSecret,
    'parley signal',
    state.groupContext.groupId,
    16,
    impl,
  );
}

/**
 * The SDK's use of MLS (RFC 9420, `ts-mls`, cipher suite 1: X25519, AES-128-GCM, SHA-256,
 * Ed25519). Everything here is a thin, typed layer over the library: one signature key per device,
 * KeyPackages made with it, groups created, joined, committed to and used for application
 * messages, and group state encoded to bytes for the store. ts-mls loads on first use, so a client
 * that never opens a conversation never downloads it.
 */

import {
  bytesEqual,
  credentialDevice,
  type DeviceCertificate,
  type DeviceRef,
  fromBase64Url,
  type IdentityCrypto,
  loadIdentityCrypto,
  MLS_CIPHER_SUITE,
  ParleyError,
  toBase64Url,
} from '@parley/core';
import type {
  CiphersuiteImpl,
  ClientConfig,
  ClientState,
  KeyPackage,
  MLSMessage,
  PrivateKeyPackage,
  PrivateMessage,
  Proposal,
  Welcome,
} from 'ts-mls';

type TsMls = typeof import('ts-mls');
type PrivateMessages = typeof import('ts-mls/privateMessage.js');
type Welcomes = typeof import('ts-mls/welcome.js');

interface Loaded {
  mls: TsMls;
  verifyKeyPackage: (kp: KeyPackage, s: CiphersuiteImpl['signature']) => Promise<boolean>;
  makeKeyPackageRef: typeof import('ts-mls/keyPackage.js')['makeKeyPackageRef'];
  decryptSenderData: PrivateMessages['decryptSenderData'];
  decryptGroupSecrets: Welcomes['decryptGroupSecrets'];
  decryptGroupInfo: Welcomes['decryptGroupInfo'];
  impl: CiphersuiteImpl;
  config: ClientConfig;
  identity: IdentityCrypto;
}

let loading: Promise<Loaded> | undefined;

export function loadMls(): Promise<Loaded> {
  loading ??= (async () => {
    const mls = await import('ts-mls');
    const { verifyKeyPackage, makeKeyPackageRef } = await import('ts-mls/keyPackage.js');
    const { decryptSenderData } = await import('ts-mls/privateMessage.js');
    const { decryptGroupSecrets, decryptGroupInfo } = await import('ts-mls/welcome.js');
    const impl = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName(MLS_CIPHER_SUITE));
    const identity = await loadIdentityCrypto();
    const config: ClientConfig = {
      keyRetentionConfig: mls.defaultKeyRetentionConfig,
      lifetimeConfig: mls.defaultLifetimeConfig,
      keyPackageEqualityConfig: mls.defaultKeyPackageEqualityConfig,
      paddingConfig: mls.defaultPaddingConfig,
      authService: {
        // Every leaf ts-mls meets (created, joined, added, updated) must carry a device
        // certificate signed by its account's identity key, for the very signature key of the
        // leaf. Whether that identity key is the one this client knows for the account is the
        // trust store's question, asked after (identity/trust.ts): this hook has no state.
        async validateCredential(credential, signaturePublicKey) {
          if (credential.credentialType !== 'basic') return false;
          const cert = identity.verifyCertificate(credential.identity);
          return cert !== undefined && bytesEqual(cert.deviceKey, signaturePublicKey);
        },
      },
    };
    return {
      mls,
      impl,
      config,
      verifyKeyPackage,
      makeKeyPackageRef,
      decryptSenderData,
      decryptGroupSecrets,
      decryptGroupInfo,
      identity,
    };
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

/** `credential` is this device's certificate (the basic credential's identity). */
export async function newKeyPackage(
  credential: Uint8Array,
  keys: SignatureKeys,
  id: string,
  lastResort: boolean,
): Promise<OwnKeyPackage> {
  const { mls, impl } = await loadMls();
  const made = await mls.generateKeyPackageWithKey(
    { credentialType: 'basic', identity: credential },
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

/**
 * Decodes a claimed KeyPackage and checks that it is signed by its leaf's key, and that the leaf
 * carries a certificate, signed by an identity key, for that key and for the device the server
 * said it is. Whether the identity key is the account's is asked of the trust store after this.
 */
export async function peerKeyPackage(
  b64: string,
  device: DeviceRef,
): Promise<{ keyPackage: KeyPackage; certificate: DeviceCertificate }> {
  const { mls, impl, verifyKeyPackage, identity } = await loadMls();
  const message = decode(mls, b64, 'KeyPackage');
  if (message.wireformat !== 'mls_key_package') throw mlsError(undefined, 'not a KeyPackage');
  const kp = message.keyPackage;
  const cert =
    kp.leafNode.credential.credentialType === 'basic'
      ? identity.verifyCertificate(kp.leafNode.credential.identity)
      : undefined;
  if (
    kp.cipherSuite !== MLS_CIPHER_SUITE ||
    !cert ||
    cert.accountId !== device.accountId ||
    cert.deviceId !== device.deviceId ||
    !bytesEqual(cert.deviceKey, kp.leafNode.signaturePublicKey) ||
    !(await verifyKeyPackage(kp, impl.signature))
  ) {
    throw new ParleyError('MLS_FAILED', {
      details: { what: 'a claimed KeyPackage does not belong to its device', device },
    });
  }
  return { keyPackage: kp, certificate: cert };
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
  state.ratchetTree.forEach((_, index) => {
    if (index % 2 !== 0) return;
    const who = leafDevice(state.ratchetTree, index / 2);
    if (who) out.push({ ...who, leaf: index / 2 });
  });
  return out;
}

/** The device a leaf's credential names, read from the tree (leaf L is node 2L). */
function leafDevice(tree: ClientState['ratchetTree'], leaf: number): DeviceRef | undefined {
  const node = tree[leaf * 2];
  if (node?.nodeType !== 'leaf' || node.leaf.credential.credentialType !== 'basic') return;
  return credentialDevice(node.leaf.credential.identity);
}

/**
 * Every leaf's certificate, verified again here (ts-mls checked each one as it entered the
 * tree; this is what the trust store is handed). A leaf without a valid certificate for its
 * signature key — which ts-mls should never have let in — makes this throw.
 */
export async function leafCertificates(state: ClientState): Promise<DeviceCertificate[]> {
  const { identity } = await loadMls();
  const out: DeviceCertificate[] = [];
  state.ratchetTree.forEach((node, index) => {
    if (index % 2 !== 0 || node?.nodeType !== 'leaf') return;
    const { credential, signaturePublicKey } = node.leaf;
    const cert =
      credential.credentialType === 'basic'
        ? identity.verifyCertificate(credential.identity)
        : undefined;
    if (!cert || !bytesEqual(cert.deviceKey, signaturePublicKey)) {
      throw mlsError(undefined, `leaf ${index / 2} has no valid device certificate`);
    }
    out.push(cert);
  });
  return out;
}

/**
 * Who sent a PrivateMessage, as MLS authenticates it: the leaf in its sender data (RFC 9420
 * §6.3.2), decrypted with the sender-data secret of the message's epoch, and that leaf's
 * credential in the same epoch's tree. ts-mls then verifies the content's signature against that
 * very leaf, so a message that decrypts was signed by this device.
 */
async function senderOf(
  loaded: Loaded,
  state: ClientState,
  message: PrivateMessage,
): Promise<DeviceRef | undefined> {
  const epoch =
    message.epoch === state.groupContext.epoch
      ? { secret: state.keySchedule.senderDataSecret, tree: state.ratchetTree }
      : (() => {
          const old = state.historicalReceiverData.get(message.epoch);
          return old && { secret: old.senderDataSecret, tree: old.ratchetTree };
        })();
  if (!epoch) return undefined;
  const data = await loaded.decryptSenderData(message, epoch.secret, loaded.impl);
  return data ? leafDevice(epoch.tree, data.leafIndex) : undefined;
}

export async function createGroup(
  groupId: string,
  credential: Uint8Array,
  keys: SignatureKeys,
): Promise<ClientState> {
  const { mls, impl, config } = await loadMls();
  const own = await mls.generateKeyPackageWithKey(
    { credentialType: 'basic', identity: credential },
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

/**
 * Joins by a Welcome. `addedBy` is the member whose GroupInfo signature ts-mls verified (the
 * `signer` leaf, RFC 9420 §12.4.3.1): the device that added this one, whatever the server says.
 */
export async function joinByWelcome(
  welcomeB64: string,
  own: OwnKeyPackage,
  keys: SignatureKeys,
): Promise<{ state: ClientState; addedBy: DeviceRef | undefined }> {
  const loaded = await loadMls();
  const { mls, impl, config } = loaded;
  const message = decode(mls, welcomeB64, 'Welcome');
  if (message.wireformat !== 'mls_welcome') throw mlsError(undefined, 'not a Welcome');
  const kpMessage = decode(mls, own.keyPackage, 'own KeyPackage');
  if (kpMessage.wireformat !== 'mls_key_package') throw mlsError(undefined, 'own KeyPackage');
  const welcome = message.welcome as Welcome;
  try {
    const state = await mls.joinGroup(
      welcome,
      kpMessage.keyPackage,
      privateOf(own, keys),
      mls.emptyPskIndex,
      impl,
      undefined,
      undefined,
      config,
    );
    // The GroupInfo again, for its signer: joinGroup checked its signature but returns no
    // trace of it. No PSKs are used, so the PSK secret is the zero vector (§8.4).
    const secrets = await loaded.decryptGroupSecrets(
      await impl.hpke.importPrivateKey(fromBase64Url(own.initPrivateKey)!),
      await loaded.makeKeyPackageRef(kpMessage.keyPackage, impl.hash),
      welcome,
      impl.hpke,
    );
    const info =
      secrets &&
      (await loaded.decryptGroupInfo(
        welcome,
        secrets.joinerSecret,
        new Uint8Array(impl.kdf.size),
        impl,
      ));
    return { state, addedBy: info ? leafDevice(state.ratchetTree, info.signer) : undefined };
  } catch (cause) {
    throw mlsError(cause, 'join by Welcome');
  }
}

/**
 * Applies a Commit (or a proposal) from another member; `committer` is the member MLS
 * authenticates as its sender (a PublicMessage's sender leaf, a PrivateMessage's sender data),
 * read in the tree before the Commit.
 */
export async function processHandshake(
  state: ClientState,
  b64: string,
): Promise<{ state: ClientState; committer: DeviceRef | undefined }> {
  const loaded = await loadMls();
  const { mls, impl } = loaded;
  const message = decode(mls, b64, 'Commit');
  try {
    if (message.wireformat === 'mls_private_message') {
      const committer = await senderOf(loaded, state, message.privateMessage);
      const result = await mls.processPrivateMessage(
        state,
        message.privateMessage,
        mls.emptyPskIndex,
        impl,
      );
      return { state: result.newState, committer };
    }
    if (message.wireformat === 'mls_public_message') {
      const sender = message.publicMessage.content.sender;
      const committer =
        sender.senderType === 'member'
          ? leafDevice(state.ratchetTree, sender.leafIndex)
          : undefined;
      const result = await mls.processPublicMessage(
        state,
        message.publicMessage,
        mls.emptyPskIndex,
        impl,
      );
      return { state: result.newState, committer };
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

/** Decrypts an application message; `sender` is the device MLS authenticates as its author. */
export async function decrypt(
  state: ClientState,
  payload: string,
): Promise<{ state: ClientState; plaintext: Uint8Array; sender: DeviceRef }> {
  const loaded = await loadMls();
  const { mls, impl } = loaded;
  const message = decode(mls, payload, 'application message');
  if (message.wireformat !== 'mls_private_message') throw mlsError(undefined, 'not private');
  let result: Awaited<ReturnType<TsMls['processPrivateMessage']>>;
  let sender: DeviceRef | undefined;
  try {
    sender = await senderOf(loaded, state, message.privateMessage);
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
  if (!sender) throw mlsError(undefined, 'no sender leaf');
  return { state: result.newState, plaintext: result.message, sender };
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

/** Signs with this device's MLS signature key (the key in each of its leaves). */
export async function sign(keys: SignatureKeys, message: Uint8Array): Promise<Uint8Array> {
  const { impl } = await loadMls();
  return impl.signature.sign(fromBase64Url(keys.signKey)!, message);
}

/**
 * Checks a signature against the leaf of `device` in the group's current tree: false when the
 * device has no leaf there or the signature is not its key's.
 */
export async function verifyByLeaf(
  state: ClientState,
  device: DeviceRef,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const { impl } = await loadMls();
  const member = membersOf(state).find(
    (m) => m.deviceId === device.deviceId && m.accountId === device.accountId,
  );
  const node = member && state.ratchetTree[member.leaf * 2];
  if (node?.nodeType !== 'leaf') return false;
  try {
    return await impl.signature.verify(node.leaf.signaturePublicKey, message, signature);
  } catch {
    return false;
  }
}

/**
 * The HTTP side of the SDK: one method per endpoint, error bodies turned into ParleyError, every
 * response checked against the shared schema, and every request that carries data recorded in the
 * transparency log before it is sent.
 */

import {
  type AccountResponse as Account,
  AccountIdentityResponse,
  AccountResponse,
  type AccountUpdateRequest as AccountUpdate,
  type AllowListChange,
  AllowListResponse,
  type KeyPackageClaimResponse as Claimed,
  type CodeCheckResponse as CodeChecked,
  CodeCheckResponse,
  type CommitRequest,
  DevicesRemovedResponse,
  type DirectoryResponse as Directory,
  DirectoryResponse,
  ErrorResponse,
  type EvaluateResponse as Evaluated,
  EvaluateResponse,
  type GroupResponse as Group,
  GroupResponse,
  isErrorCode,
  KeyPackageClaimResponse,
  KeyPackageStock,
  type KeyPackageUpload,
  type LeaveResponse,
  LeaveResponse as LeaveResponseSchema,
  LinkApproved,
  LinkCreated,
  type LinkRequest,
  LinkResult,
  LinkSession,
  ParleyError,
  type ProfilePut,
  ProfileResponse,
  type PushSubscriptionRequest,
  type RegisterRequest as RegisterBody,
  type RegisterResponse as Registered,
  RegisterResponse,
  type ResolveResponse as Resolved,
  ResolveResponse,
  type RotationsResponse as Rotations,
  RotationsResponse,
  type KeyPackageStock as Stock,
  type TranslateResponse as Translated,
  TranslateResponse,
  type TSchema,
  VapidKeyResponse,
  type VapidKeyResponse as VapidKeyResponseType,
  type VerificationResponse as Verification,
  VerificationResponse,
} from '@parley/core';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { TransparencyLog, UploadKind } from '../privacy/transparency-log.js';

export type Fetch = typeof globalThis.fetch;

/** Endpoints that answer 204, or a body this client does not need. */
const Anything = Type.Unknown();

export class ApiClient {
  credential: string | undefined;

  constructor(
    readonly serverUrl: string,
    private readonly log: TransparencyLog,
    private readonly fetchImpl: Fetch = globalThis.fetch.bind(globalThis),
  ) {}

  /** One JSON request; the endpoint methods below and transport/attachment-api.ts call it. */
  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    schema: TSchema,
    body?: { kind: UploadKind; items: number; json: unknown },
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.credential) headers.authorization = `Bearer ${this.credential}`;
    let payload: string | undefined;
    if (body) {
      payload = JSON.stringify(body.json);
      headers['content-type'] = 'application/json';
      await this.log.record({
        server: this.serverUrl,
        endpoint: `${method} ${path}`,
        kind: body.kind,
        items: body.items,
        bytes: new TextEncoder().encode(payload).length,
      });
    }
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(path, this.serverUrl), {
        method,
        headers,
        body: payload,
      });
    } catch (cause) {
      throw unreachable(this.serverUrl, cause);
    }
    // No Content: the schema is not consulted (the callers that expect it declare `void`).
    if (response.status === 204) return undefined as T;
    let json: unknown;
    try {
      json = await response.json();
    } catch (cause) {
      throw new ParleyError('INVALID_RESPONSE', { cause, details: { status: response.status } });
    }
    if (!response.ok) throw errorOf(json, response.status);
    if (!Value.Check(schema, json)) {
      throw new ParleyError('INVALID_RESPONSE', { details: { path } });
    }
    return json as T;
  }

  requestVerification(phoneNumber: string): Promise<Verification> {
    return this.request('POST', '/v1/verifications', VerificationResponse, {
      kind: 'own-phone-number',
      items: 1,
      json: { phoneNumber },
    });
  }

  checkCode(verificationId: string, code: string): Promise<CodeChecked> {
    return this.request('POST', '/v1/verifications/check', CodeCheckResponse, {
      kind: 'code-check',
      items: 1,
      json: { verificationId, code },
    });
  }

  register(body: RegisterBody): Promise<Registered> {
    return this.request('POST', '/v1/accounts', RegisterResponse, {
      kind: 'verification-code',
      items: 1,
      json: body,
    });
  }

  account(): Promise<Account> {
    return this.request('GET', '/v1/account', AccountResponse);
  }

  updateAccount(change: AccountUpdate): Promise<Account> {
    return this.request('PATCH', '/v1/account', AccountResponse, {
      kind: 'account-settings',
      items: 1,
      json: change,
    });
  }

  /** Signs out one of the account's devices: 204, nothing comes back. */
  removeDevice(deviceId: string): Promise<void> {
    return this.request<void>(
      'DELETE',
      `/v1/devices/${encodeURIComponent(deviceId)}`,
      AccountResponse,
    );
  }

  /** Signs out every device of the account but this one. */
  removeOtherDevices(): Promise<{ removed: number }> {
    return this.request('DELETE', '/v1/devices', DevicesRemovedResponse);
  }

  /** Deletes the account with all its devices: 204, nothing comes back. */
  deleteAccount(): Promise<void> {
    return this.request<void>('DELETE', '/v1/account', AccountResponse);
  }

  directory(held?: { keyId: string; version: number; range: bigint }): Promise<Directory> {
    const query = new URLSearchParams();
    if (held) {
      query.set('keyId', held.keyId);
      query.set('since', String(held.version));
      query.set('range', String(held.range));
    }
    const qs = query.toString();
    return this.request('GET', `/v1/directory${qs ? `?${qs}` : ''}`, DirectoryResponse);
  }

  /** The OPRF key rotation statements from `from` (the key pinned last) to the current key. */
  rotations(from?: string): Promise<Rotations> {
    const qs = from === undefined ? '' : `?from=${encodeURIComponent(from)}`;
    return this.request('GET', `/v1/directory/rotations${qs}`, RotationsResponse);
  }

  /** Downloads a binary filter snapshot named by a directory response. */
  async snapshot(path: string, expectedBytes: number): Promise<Uint8Array> {
    const headers: Record<string, string> = {};
    if (this.credential) headers.authorization = `Bearer ${this.credential}`;
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(path, this.serverUrl), { headers });
    } catch (cause) {
      throw unreachable(this.serverUrl, cause);
    }
    if (!response.ok) {
      const json = (await response.json().catch(() => undefined)) as unknown;
      if (Value.Check(ErrorResponse, json) && isErrorCode(json.code)) {
        throw new ParleyError(json.code, { message: json.message, details: json.details });
      }
      throw new ParleyError('INVALID_RESPONSE', { details: { status: response.status } });
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length !== expectedBytes) {
      throw new ParleyError('INVALID_RESPONSE', { details: { reason: 'snapshot size mismatch' } });
    }
    return bytes;
  }

  evaluate(keyId: string, blindedElements: string[]): Promise<Evaluated> {
    return this.request('POST', '/v1/discovery/evaluate', EvaluateResponse, {
      kind: 'blinded-contact-numbers',
      items: blindedElements.length,
      json: { keyId, blindedElements },
    });
  }

  translate(fromKeyId: string, toKeyId: string, blindedElements: string[]): Promise<Translated> {
    return this.request('POST', '/v1/discovery/translate', TranslateResponse, {
      kind: 'blinded-rekey-elements',
      items: blindedElements.length,
      json: { fromKeyId, toKeyId, blindedElements },
    });
  }

  resolve(keyId: string, tokens: string[]): Promise<Resolved> {
    return this.request('POST', '/v1/discovery/resolve', ResolveResponse, {
      kind: 'match-lookup-tokens',
      items: tokens.length,
      json: { keyId, tokens },
    });
  }

  uploadKeyPackages(body: KeyPackageUpload): Promise<Stock> {
    return this.request('POST', '/v1/keys/packages', KeyPackageStock, {
      kind: 'mls-key-packages',
      items: body.keyPackages.length + (body.lastResort ? 1 : 0),
      json: body,
    });
  }

  keyPackageStock(): Promise<Stock> {
    return this.request('GET', '/v1/keys/packages', KeyPackageStock);
  }

  claimKeyPackages(accountIds: string[]): Promise<Claimed> {
    return this.request('POST', '/v1/keys/claim', KeyPackageClaimResponse, {
      kind: 'conversation-members',
      items: accountIds.length,
      json: { accountIds },
    });
  }

  /** Adds accounts to and removes them from who may see this account online (its allow-list). */
  changeAllowList(change: AllowListChange): Promise<AllowListResponse> {
    return this.request('POST', '/v1/presence/allow-list', AllowListResponse, {
      kind: 'presence-allow-list',
      items: (change.add?.length ?? 0) + (change.remove?.length ?? 0),
      json: change,
    });
  }

  commit(groupId: string, body: CommitRequest): Promise<Group> {
    return this.request('POST', `/v1/groups/${groupId}/commits`, GroupResponse, {
      kind: 'mls-commit',
      items: 1,
      json: body,
    });
  }

  leaveGroup(groupId: string): Promise<LeaveResponse> {
    return this.request('POST', `/v1/groups/${groupId}/leave`, LeaveResponseSchema);
  }

  group(groupId: string): Promise<Group> {
    return this.request('GET', `/v1/groups/${groupId}`, GroupResponse);
  }

  // --- identity, registration lock, linking ---

  /** Gives the server this device's certificate (it relays it; it never vouches for it). */
  async putCertificate(certificate: string): Promise<void> {
    await this.request('PUT', '/v1/device/certificate', Anything, {
      kind: 'device-certificate',
      items: 1,
      json: { certificate },
    });
  }

  /** Sets the identity key of an account made before identity keys existed. */
  async putIdentityKey(identityKey: string): Promise<void> {
    await this.request('PUT', '/v1/account/identity', Anything, {
      kind: 'identity-key',
      items: 1,
      json: { identityKey },
    });
  }

  /** The identity key the server holds for an account: a hint, trusted on first use only. */
  accountIdentity(accountId: string): Promise<{ accountId: string; identityKey: string }> {
    return this.request(
      'GET',
      `/v1/accounts/${encodeURIComponent(accountId)}/identity`,
      AccountIdentityResponse,
    );
  }

  async setRegistrationLock(pin: string): Promise<void> {
    await this.request('PUT', '/v1/account/registration-lock', Anything, {
      kind: 'registration-lock',
      items: 1,
      json: { pin },
    });
  }

  async clearRegistrationLock(): Promise<void> {
    await this.request('DELETE', '/v1/account/registration-lock', Anything);
  }

  /**
   * A request whose body or answer is bytes (attachment chunks), authenticated like the others.
   * Not recorded in the transparency log by itself: the caller records the whole file once
   * (`recordUpload`). Resolves with the response when it is a success (the caller reads the
   * body); an error answer becomes its ParleyError.
   */
  async bytes(method: 'GET' | 'PUT', path: string, body?: Uint8Array): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.credential) headers.authorization = `Bearer ${this.credential}`;
    if (body) headers['content-type'] = 'application/octet-stream';
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(path, this.serverUrl), {
        method,
        headers,
        // The DOM's BodyInit wants an ArrayBuffer-backed view; a chunk is one.
        ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
      });
    } catch (cause) {
      throw unreachable(this.serverUrl, cause);
    }
    if (response.ok) return response;
    const json: unknown = await response.json().catch(() => undefined);
    throw errorOf(json, response.status);
  }

  /** Records an upload that `bytes` sends in pieces, once, before its first piece goes. */
  recordUpload(kind: UploadKind, endpoint: string, bytes: number): Promise<void> {
    return this.log.record({ server: this.serverUrl, endpoint, kind, items: 1, bytes });
  }

  // --- push notifications ---

  /** The server's VAPID public key (base64url), which a browser subscribes with. */
  async vapidKey(): Promise<string> {
    return (await this.request<VapidKeyResponseType>('GET', '/v1/push/vapid-key', VapidKeyResponse))
      .publicKey;
  }

  async putPushSubscription(subscription: PushSubscriptionRequest): Promise<void> {
    await this.request('PUT', '/v1/device/push-subscription', Anything, {
      kind: 'push-subscription',
      items: 1,
      json: subscription,
    });
  }

  async deletePushSubscription(): Promise<void> {
    await this.request('DELETE', '/v1/device/push-subscription', Anything);
  }

  createLink(body: LinkRequest): Promise<LinkCreated> {
    return this.request('POST', '/v1/links', LinkCreated, {
      kind: 'link-request',
      items: 1,
      json: body,
    });
  }

  linkRequest(handle: string): Promise<LinkSession> {
    return this.request('GET', `/v1/links/${encodeURIComponent(handle)}`, LinkSession);
  }

  approveLink(handle: string, envelope: string): Promise<LinkApproved> {
    return this.request('POST', `/v1/links/${encodeURIComponent(handle)}/approve`, LinkApproved, {
      kind: 'link-approval',
      items: 1,
      json: { envelope },
    });
  }

  linkResult(linkId: string): Promise<LinkResult> {
    return this.request('GET', `/v1/links/${encodeURIComponent(linkId)}/result`, LinkResult);
  }

  // --- people: profiles, blocks, reports ---

  putProfile(body: ProfilePut): Promise<{ version: number }> {
    return this.request('PUT', '/v1/profile', Type.Object({ version: Type.Integer() }), {
      kind: 'sealed-profile',
      items: 1,
      json: body,
    });
  }

  profile(accountId: string): Promise<ProfileResponse> {
    return this.request(
      'GET',
      `/v1/accounts/${encodeURIComponent(accountId)}/profile`,
      ProfileResponse,
    );
  }

  async block(accountId: string): Promise<void> {
    await this.request('PUT', `/v1/blocks/${encodeURIComponent(accountId)}`, Anything, {
      kind: 'block',
      items: 1,
      json: {},
    });
  }

  async unblock(accountId: string): Promise<void> {
    await this.request('DELETE', `/v1/blocks/${encodeURIComponent(accountId)}`, Anything);
  }

  async report(accountId: string, messages?: string[]): Promise<void> {
    await this.request('POST', '/v1/reports', Anything, {
      kind: 'spam-report',
      items: 1 + (messages?.length ?? 0),
      json: messages && messages.length > 0 ? { accountId, messages } : { accountId },
    });
  }
}

/** The server's error body as a ParleyError (INVALID_RESPONSE when it is not one). */
function errorOf(json: unknown, status: number): ParleyError {
  if (Value.Check(ErrorResponse, json) && isErrorCode(json.code)) {
    return new ParleyError(json.code, {
      message: json.message,
      ...(json.retryAfterMs !== undefined ? { retryAfterMs: json.retryAfterMs } : {}),
      details: json.details,
    });
  }
  return new ParleyError('INVALID_RESPONSE', { details: { status } });
}

/** The address tried goes into the message: a wrong port or host is then plain to see. */
function unreachable(serverUrl: string, cause: unknown): ParleyError {
  return new ParleyError('NETWORK_ERROR', {
    cause,
    message: `No Parley server answers at ${serverUrl}; check the address and the connection.`,
    details: { server: serverUrl },
  });
}

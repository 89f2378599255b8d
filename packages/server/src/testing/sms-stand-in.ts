/**
 * Test support: a local stand-in for an SMS provider's HTTP API, the one service outside the
 * machine. It checks each request as the provider documents it — method, path, authentication,
 * content type, and every field of the body, none missing and none extra — and answers with the
 * provider's documented success body, or with what a test queued: one of the provider's
 * documented error bodies, or a dropped connection (the provider down). A request that breaks the
 * protocol is answered with the provider's own error for it and noted in `violations`.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The body's fields, as the provider parses them (form fields or JSON members). */
  fields: Record<string, unknown>;
}

export interface StandInReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One provider's documented API: what a valid request is and what success looks like. */
export interface SmsProtocol {
  name: string;
  /** Problems with the request; empty when it is what the provider documents. */
  check(request: StandInRequest): string[];
  /** The provider's answer to a request it refuses for `problems` (bad auth, bad fields). */
  refusal(problems: string[], request: StandInRequest): StandInReply;
  success(request: StandInRequest): StandInReply;
}

export class SmsStandIn {
  /** Requests that matched the protocol, in order. */
  readonly received: StandInRequest[] = [];
  /** Every request that did not, with what was wrong. */
  readonly violations: string[] = [];
  /** Replies to give next, in order, instead of the success body; 'drop' closes the socket. */
  readonly queued: (StandInReply | 'drop')[] = [];
  /** Every request that reached it, valid or not. */
  count = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(protocol: SmsProtocol): Promise<SmsStandIn> {
    let standIn: SmsStandIn | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const self = standIn!;
        self.count++;
        const request: StandInRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          fields: parseBody(req.headers['content-type'], Buffer.concat(chunks).toString('utf8')),
        };
        const next = self.queued.shift();
        if (next === 'drop') {
          req.socket.destroy();
          return;
        }
        const problems = protocol.check(request);
        let reply: StandInReply;
        if (problems.length > 0) {
          self.violations.push(...problems.map((p) => `${protocol.name}: ${p}`));
          reply = protocol.refusal(problems, request);
        } else {
          self.received.push(request);
          reply = next ?? protocol.success(request);
        }
        const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
        res.writeHead(reply.status, {
          ...(body ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...reply.headers,
        });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    standIn = new SmsStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return standIn;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function parseBody(contentType: string | undefined, text: string): Record<string, unknown> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      // A field sent twice is a list, as the provider would see it (and none of ours is one).
      fields[key] = key in fields ? [fields[key], value].flat() : value;
    }
    return fields;
  }
  if (type === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {}
  }
  return {};
}

// --- checks shared by the protocols ---

const E164 = /^\+[1-9]\d{6,14}$/;

export function basicCredentials(header: string | undefined): [string, string] | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : [text.slice(0, colon), text.slice(colon + 1)];
}

function expect(problems: string[], ok: boolean, problem: string): void {
  if (!ok) problems.push(problem);
}

function mediaType(request: StandInRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The body has exactly these fields: each required one present, nothing else. */
function exactFields(
  problems: string[],
  request: StandInRequest,
  required: string[],
  optional: string[] = [],
): void {
  for (const name of required) expect(problems, name in request.fields, `missing field ${name}`);
  for (const name of Object.keys(request.fields)) {
    expect(
      problems,
      required.includes(name) || optional.includes(name),
      `unexpected field ${name}`,
    );
  }
}

function nonEmptyText(value: unknown, max: number): boolean {
  return typeof value === 'string' && value.length > 0 && [...value].length <= max;
}

// --- the providers ---

/**
 * Twilio, "Create a Message resource": POST /2010-04-01/Accounts/{AccountSid}/Messages.json,
 * Basic auth with the Account SID (or an API key SID) and its secret, a form with To, Body and
 * exactly one of From or MessagingServiceSid. 201 with the Message resource; errors as
 * `{ code, message, more_info, status }`.
 */
export function twilioProtocol(accountSid: string, user: string, password: string): SmsProtocol {
  const path = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
  return {
    name: 'twilio',
    check(request) {
      const problems: string[] = [];
      expect(problems, request.method === 'POST', `method ${request.method}, not POST`);
      expect(problems, request.path === path, `path ${request.path}, not ${path}`);
      const credentials = basicCredentials(request.headers.authorization);
      expect(
        problems,
        credentials?.[0] === user && credentials[1] === password,
        'authentication: not Basic with the SID and secret',
      );
      expect(
        problems,
        mediaType(request) === 'application/x-www-form-urlencoded',
        `content type ${request.headers['content-type']}`,
      );
      const sender = 'From' in request.fields ? 'From' : 'MessagingServiceSid';
      exactFields(problems, request, ['To', 'Body', sender]);
      expect(problems, E164.test(String(request.fields.To)), 'To is not E.164');
      expect(problems, nonEmptyText(request.fields.Body, 1600), 'Body empty or over 1,600');
      if (sender === 'MessagingServiceSid') {
        expect(
          problems,
          /^MG[0-9a-f]{32}$/i.test(String(request.fields.MessagingServiceSid)),
          'bad MessagingServiceSid',
        );
      }
      return problems;
    },
    refusal(problems) {
      return problems.some((p) => p.startsWith('authentication'))
        ? twilioError(401, 20003, 'Authenticate')
        : twilioError(400, 21604, "A 'To' phone number is required.");
    },
    success(request) {
      const sid = `SM${randomBytes(16).toString('hex')}`;
      const now = new Date().toUTCString();
      return {
        status: 201,
        body: {
          account_sid: accountSid,
          api_version: '2010-04-01',
          body: request.fields.Body,
          date_created: now,
          date_sent: null,
          date_updated: now,
          direction: 'outbound-api',
          error_code: null,
          error_message: null,
          from: request.fields.From ?? null,
          messaging_service_sid: request.fields.MessagingServiceSid ?? null,
          num_media: '0',
          num_segments: '1',
          price: null,
          price_unit: null,
          sid,
          status: request.fields.From ? 'queued' : 'accepted',
          subresource_uris: { media: `${path.replace('.json', '')}/${sid}/Media.json` },
          to: request.fields.To,
          uri: `${path.replace('.json', '')}/${sid}.json`,
        },
      };
    },
  };
}

/** A Twilio error body as its REST API sends it. */
export function twilioError(status: number, code: number, message: string): StandInReply {
  return {
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  };
}

/**
 * Vonage SMS API: POST /sms/json, a form with api_key, api_secret, from, to (digits, no +) and
 * text, plus type=unicode for texts outside GSM-7. Always HTTP 200: each message part carries
 * its own `status` ("0" sent) and, when refused, an `error-text`.
 */
export function vonageProtocol(apiKey: string, apiSecret: string): SmsProtocol {
  return {
    name: 'vonage',
    check(request) {
      const problems: string[] = [];
      expect(problems, request.method === 'POST', `method ${request.method}, not POST`);
      expect(problems, request.path === '/sms/json', `path ${request.path}, not /sms/json`);
      expect(
        problems,
        mediaType(request) === 'application/x-www-form-urlencoded',
        `content type ${request.headers['content-type']}`,
      );
      exactFields(problems, request, ['api_key', 'api_secret', 'from', 'to', 'text'], ['type']);
      expect(
        problems,
        request.fields.api_key === apiKey && request.fields.api_secret === apiSecret,
        'authentication: wrong api_key or api_secret',
      );
      expect(
        problems,
        /^[1-9]\d{6,14}$/.test(String(request.fields.to)),
        'to is not international digits without +',
      );
      expect(
        problems,
        /^([1-9]\d{2,14}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$/.test(String(request.fields.from)),
        'from is not a number or an alphanumeric id',
      );
      expect(problems, nonEmptyText(request.fields.text, 3200), 'text empty or too long');
      if ('type' in request.fields)
        expect(problems, request.fields.type === 'unicode', 'type is not unicode');
      return problems;
    },
    refusal(problems) {
      return problems.some((p) => p.startsWith('authentication'))
        ? vonageError('4', 'Bad Credentials')
        : vonageError('2', 'Missing to param');
    },
    success(request) {
      return {
        status: 200,
        body: {
          'message-count': '1',
          messages: [
            {
              to: request.fields.to,
              'message-id': randomBytes(16).toString('hex'),
              status: '0',
              'remaining-balance': '3.14159265',
              'message-price': '0.03330000',
              network: '12345',
            },
          ],
        },
      };
    },
  };
}

/** A Vonage refusal: HTTP 200, one message with a non-zero status. */
export function vonageError(status: string, errorText: string): StandInReply {
  return {
    status: 200,
    body: { 'message-count': '1', messages: [{ status, 'error-text': errorText }] },
  };
}

/**
 * Sinch SMS REST API, "Send": POST /xms/v1/{service_plan_id}/batches with a Bearer API token and
 * a JSON batch { from, to: [E.164], body }. 201 with the batch; refusals 400/403 `{ code, text }`.
 */
export function sinchProtocol(servicePlanId: string, apiToken: string): SmsProtocol {
  const path = `/xms/v1/${servicePlanId}/batches`;
  return {
    name: 'sinch',
    check(request) {
      const problems: string[] = [];
      expect(problems, request.method === 'POST', `method ${request.method}, not POST`);
      expect(problems, request.path === path, `path ${request.path}, not ${path}`);
      expect(
        problems,
        request.headers.authorization === `Bearer ${apiToken}`,
        'authentication: not the Bearer API token',
      );
      expect(
        problems,
        mediaType(request) === 'application/json',
        `content type ${request.headers['content-type']}`,
      );
      exactFields(problems, request, ['from', 'to', 'body']);
      const to = request.fields.to;
      expect(
        problems,
        Array.isArray(to) && to.length === 1 && E164.test(String(to[0])),
        'to is not a list of one E.164 number',
      );
      expect(
        problems,
        typeof request.fields.from === 'string' && request.fields.from !== '',
        'from missing',
      );
      expect(problems, nonEmptyText(request.fields.body, 2000), 'body empty or too long');
      return problems;
    },
    refusal(problems) {
      return problems.some((p) => p.startsWith('authentication'))
        ? { status: 401 }
        : sinchError(
            400,
            'syntax_constraint_violation',
            'The request does not fulfil the constraints',
          );
    },
    success(request) {
      const now = new Date().toISOString();
      return {
        status: 201,
        body: {
          id: randomBytes(13).toString('hex').toUpperCase().slice(0, 26),
          to: request.fields.to,
          from: request.fields.from,
          canceled: false,
          body: request.fields.body,
          type: 'mt_text',
          created_at: now,
          modified_at: now,
          delivery_report: 'none',
          expire_at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
          flash_message: false,
        },
      };
    },
  };
}

/** A Sinch refusal with its documented `{ code, text }`. */
export function sinchError(status: number, code: string, text: string): StandInReply {
  return { status, body: { code, text } };
}

/**
 * Parley's own generic gateway format (infra/sms/http-provider.ts): POST to the configured path,
 * optional Bearer token, JSON { to, text, reference } and `from` when a sender is configured.
 */
export function httpGatewayProtocol(path: string, token: string | undefined): SmsProtocol {
  return {
    name: 'http',
    check(request) {
      const problems: string[] = [];
      expect(problems, request.method === 'POST', `method ${request.method}, not POST`);
      expect(problems, request.path === path, `path ${request.path}, not ${path}`);
      expect(
        problems,
        request.headers.authorization === (token === undefined ? undefined : `Bearer ${token}`),
        'authentication: not the Bearer token',
      );
      expect(
        problems,
        mediaType(request) === 'application/json',
        `content type ${request.headers['content-type']}`,
      );
      exactFields(problems, request, ['to', 'text', 'reference'], ['from']);
      expect(problems, E164.test(String(request.fields.to)), 'to is not E.164');
      return problems;
    },
    refusal(problems) {
      return { status: problems.some((p) => p.startsWith('authentication')) ? 401 : 400, body: {} };
    },
    success() {
      return { status: 202, body: {} };
    },
  };
}

/**
 * Maps everything that can go wrong in a request to the error catalog: schema failures, bad JSON,
 * oversized bodies and unexpected exceptions all leave as `{ code, message, ... }` with the
 * catalog's status. Parser messages are not echoed: they can quote the body, and a body can hold a
 * phone number.
 */

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ErrorCode, ParleyError } from '@parley/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asParleyError } from '../infra/errors.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function describeValidation(context: string | undefined, issues: ValidationIssue[]) {
  return issues.slice(0, 5).map((v) => {
    const where = `${context ?? 'body'}${v.instancePath ?? ''}`;
    if (v.keyword === 'additionalProperties') {
      return { field: where, problem: `unknown field '${String(v.params?.additionalProperty)}'` };
    }
    if (v.keyword === 'required') {
      return { field: where, problem: `missing field '${String(v.params?.missingProperty)}'` };
    }
    return { field: where, problem: v.message ?? 'invalid' };
  });
}

export function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  const e = error as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    if (e.validation.some((v) => v.keyword === 'maxItems')) {
      return new ParleyError('BATCH_TOO_LARGE', {
        details: describeValidation(e.validationContext, e.validation),
      });
    }
    return new ParleyError('VALIDATION_FAILED', {
      details: describeValidation(e.validationContext, e.validation),
    });
  }
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new ParleyError(mapped);
  if (error instanceof SyntaxError) return new ParleyError('INVALID_JSON');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new ParleyError('PAYLOAD_TOO_LARGE');
    if (e.statusCode === 415) return new ParleyError('UNSUPPORTED_MEDIA_TYPE');
    return new ParleyError('VALIDATION_FAILED', { details: { reason: e.code ?? 'bad request' } });
  }
  return asParleyError(error);
}

/**
 * Fastify's option `frameworkErrors`: the router's own refusals (a path that is not valid
 * percent-encoding, a path parameter over 100 characters) otherwise bypass the error handler and
 * answer in Fastify's shape, quoting the path, which can hold a phone number.
 */
export function frameworkErrors(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const field = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'params' : 'url';
  const problem =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path parameter is longer than any valid one'
      : 'the path is not valid percent-encoding';
  const parley =
    error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ParleyError('VALIDATION_FAILED', { details: [{ field, problem }] })
      : toParleyError(error);
  reply.status(parley.status).send(parley.toBody());
}

/**
 * Fastify's option `clientErrorHandler`: requests Node's HTTP parser refuses before Fastify sees
 * them (an oversized request line or headers, broken HTTP, a request that stalls). The connection
 * is closed after the answer, as Node does, since the parser cannot tell where the next request
 * would begin.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'MALFORMED_REQUEST';
  const parley = new ParleyError(code);
  const body = JSON.stringify(parley.toBody());
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${parley.status} ${STATUS_CODES[parley.status]}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const parley = toParleyError(error);
    if (parley.code === 'INTERNAL') {
      request.log.error({ err: error }, 'request failed unexpectedly');
    } else if (parley.code.startsWith('SMS_')) {
      // For the operator: which provider, its HTTP status and error code (never its message,
      // which may quote the number, and never the number or the code).
      request.log.warn({ code: parley.code, sms: parley.details }, 'verification SMS not sent');
    }
    if (parley.retryAfterMs !== undefined) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(parley.retryAfterMs / 1000))));
    }
    return reply.status(parley.status).send(parley.toBody());
  });
  app.setNotFoundHandler((_request, reply) => {
    const error = new ParleyError('NOT_FOUND');
    return reply.status(error.status).send(error.toBody());
  });
}

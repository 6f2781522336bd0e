/**
 * Every error answer in Webex's envelope `{message, errors:[{description}], trackingId}`, plus our
 * stable `code` and, for validation, each field's `path` and `rule`. Never a stack, never a secret.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { WebexErrorBody } from '../domain/schema.js';
import {
  codeOfStatus,
  ERRORS,
  type ErrorCode,
  InstantConnectError,
  messageOf,
  ValidationError,
} from '../errors.js';

export function envelope(
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  errors?: WebexErrorBody['errors'],
): WebexErrorBody {
  return { message, errors: errors ?? [{ description: message }], trackingId: String(request.id), code };
}

/** The envelope of a 4xx fastify's HTTP parser answers before any route (a URL or headers too large). */
export function clientErrorResponse(status: number): string {
  const trackingId = `IC_${randomUUID()}`;
  const message = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({
    message,
    errors: [{ description: message }],
    trackingId,
    code: codeOfStatus(status),
  });
  return [
    `HTTP/1.1 ${status} ${message}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Content-Type: application/json; charset=utf-8',
    `TrackingID: ${trackingId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Fastify's own errors (parser, limits) and its plugins' 4xx errors mapped to our codes. */
function fromFastify(error: FastifyError): { status?: number; code: ErrorCode; message: string } | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        code: 'ERR_BODY_TOO_LARGE',
        message: 'The request body is larger than the limit of this route',
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
        message: 'The body must be JSON (Content-Type: application/json)',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'ERR_BAD_JSON', message: 'The body is empty; send a JSON object' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'ERR_BAD_JSON', message: 'The Content-Length does not match the body' };
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { code: 'ERR_BAD_JSON', message: 'The body is not valid JSON' };
  }
  // Any other client error (a static file outside the folder, a range past its end…) keeps its
  // status, with the status's own words: a plugin's message may name files or echo input.
  const status = error.statusCode ?? (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return {
      status,
      code: codeOfStatus(status),
      message: STATUS_CODES[status] ?? 'The request cannot be served',
    };
  }
  return undefined;
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof InstantConnectError) {
    const { status, retry } = ERRORS[error.code];
    if (status >= 500) request.log.warn({ code: error.code }, error.message);
    if (retry === 'after' && error.retryAfter !== undefined) reply.header('retry-after', error.retryAfter);
    if (error.code === 'ERR_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="instant-connect"');
    const errors =
      error instanceof ValidationError
        ? error.issues.map((i) => ({ description: i.message, path: i.path, rule: i.rule }))
        : undefined;
    const message = error instanceof ValidationError ? messageOf('ERR_VALIDATION') : error.message;
    return reply.status(status).send(envelope(request, error.code, message, errors));
  }
  const mapped = fromFastify(error as FastifyError);
  if (mapped)
    return reply
      .status(mapped.status ?? ERRORS[mapped.code].status)
      .send(envelope(request, mapped.code, mapped.message));
  request.log.error({ err: error }, 'unhandled error');
  return reply.status(500).send(envelope(request, 'ERR_INTERNAL', messageOf('ERR_INTERNAL')));
}

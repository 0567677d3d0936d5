/**
 * Turns every failure into `{ error: { code, message, details? } }` with the right status.
 * Client errors say what was wrong; server errors are logged with their stack and answered with
 * a bare "internal error" (never a stack trace or SQL to the client).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type FieldProblem } from './errors.js';

interface AjvError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** `/events/3/time` in the body → `events[3].time`; query and params get a prefix. */
function fieldOf(error: AjvError, context: string | undefined): string {
  const segments = (error.instancePath ?? '').split('/').filter(Boolean);
  const missing = error.params?.['missingProperty'];
  if (typeof missing === 'string') segments.push(missing);
  const extra = error.params?.['additionalProperty'];
  if (typeof extra === 'string') segments.push(extra);
  let field = '';
  for (const segment of segments)
    field += /^\d+$/.test(segment) ? `[${segment}]` : field ? `.${segment}` : segment;
  const prefix = context && context !== 'body' ? `${context}.` : '';
  return prefix + (field || (context ?? 'body'));
}

function messageOf(error: AjvError): string {
  if (error.keyword === 'enum' && Array.isArray(error.params?.['allowedValues'])) {
    return `must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  return error.message ?? 'is invalid';
}

function send(reply: FastifyReply, status: number, code: string, message: string, details?: FieldProblem[]) {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ error: { code, message, ...(details ? { details } : {}) } });
}

const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
};

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(
    (error: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply) => {
      if (error instanceof ApiError) {
        if (error.headers) reply.headers(error.headers);
        return send(reply, error.statusCode, error.code, error.message, error.details);
      }
      const fastifyError = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
      if (Array.isArray(fastifyError.validation)) {
        const details = fastifyError.validation.map((item) => ({
          field: fieldOf(item, fastifyError.validationContext),
          message: messageOf(item),
        }));
        const first = details[0];
        return send(
          reply,
          400,
          'VALIDATION_FAILED',
          first ? `${first.field}: ${first.message}` : 'invalid request',
          details,
        );
      }
      if (fastifyError.code?.startsWith('Z_')) {
        return send(reply, 400, 'INVALID_GZIP', `the body is not valid gzip: ${fastifyError.message}`);
      }
      const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
      if (known) return send(reply, known.status, known.code, fastifyError.message);
      if (error instanceof SyntaxError && (fastifyError.statusCode ?? 0) === 400) {
        return send(reply, 400, 'INVALID_JSON', `the body is not valid JSON: ${error.message}`);
      }
      const status = fastifyError.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return send(reply, status, fastifyError.code ?? 'BAD_REQUEST', fastifyError.message);
      }
      request.log.error({ err: error }, 'request failed');
      return send(reply, 500, 'INTERNAL_ERROR', 'internal error; the server log has the details');
    },
  );
}

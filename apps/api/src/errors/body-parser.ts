import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Config, ErrorBody } from '@amend/contracts';
import { bodyTooLarge, unsupportedMediaType } from './api-error';
import { errorResponse, toErrorResponse } from './error-body.filter';

const send = (res: Response, { status, body }: { status: number; body: ErrorBody }) => res.status(status).json(body);

/** Media types a constitution may be published as, besides JSON. */
export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const NUL_TEXT = 'text.nul';
const NUL_MESSAGE = (where: string) => `${where} holds the NUL character, which Postgres cannot store in a text; remove it`;

/**
 * Whether JSON text has a `\u0000` escape in a string (an escaped backslash followed by "u0000"
 * does not count). Postgres text and jsonb cannot hold NUL, so every body that would carry one
 * into the database is refused here, once, instead of failing (22021, 22P05) wherever it lands.
 * A raw NUL byte is not valid JSON and fails parsing anyway.
 */
export function hasNulEscape(buf: Buffer): boolean {
  for (let i = buf.indexOf('\\u0000'); i !== -1; i = buf.indexOf('\\u0000', i + 1)) {
    let slashes = 0;
    for (let j = i - 1; j >= 0 && buf[j] === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) return true;
  }
  return false;
}

type WithSurrogateEscapes = Request & { surrogateEscapes?: boolean };
/** A high surrogate without a low one after it, or a low one without a high one before it (String#isWellFormed is ES2024). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether every string (and key) of a parsed JSON value is well-formed Unicode. JSON may escape
 * half a surrogate pair (`"\\ud800"`); Postgres refuses it in jsonb (22P02), wherever it lands.
 */
export function wellFormed(value: unknown): boolean {
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return false;
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) return false;
        stack.push(x);
      }
    }
  }
  return true;
}

/** The JSON text of a constitution request as received, so schema errors can name its lines. */
export type WithRawBody = Request & { rawBody?: string };

/**
 * JSON bodies with an explicit size limit, and YAML bodies (as text) for publishing
 * constitutions; parser failures answer with the design's error body.
 */
export function jsonBodyParser(config: Pick<Config, 'AMEND_MAX_BODY_BYTES' | 'AMEND_MAX_CONSTITUTION_BYTES'>) {
  const limit = config.AMEND_MAX_BODY_BYTES;
  const yamlLimit = config.AMEND_MAX_CONSTITUTION_BYTES;
  const parse = express.json({
    limit,
    verify: (req: IncomingMessage, _res, buf) => {
      if (hasNulEscape(buf)) throw Object.assign(new Error('NUL in a JSON string'), { type: NUL_TEXT });
      // A surrogate can only come as an escape (UTF-8 has none): look closer after parsing.
      if (buf.includes('\\ud') || buf.includes('\\uD')) (req as WithSurrogateEscapes).surrogateEscapes = true;
      // Only constitution bodies are kept as text: they are small, a run's body can be 100 MB.
      if (req.url?.startsWith('/v1/constitutions') && buf.length <= yamlLimit) (req as WithRawBody).rawBody = buf.toString('utf8');
    },
  });
  const yaml = express.text({ type: YAML_MEDIA_TYPES, limit: yamlLimit });
  // A body no parser reads would reach the route as no body at all, and be answered with whatever its
  // schema says of a missing field (a 422 about `constitution`): say what the type should be instead.
  const knownType = (req: Request, res: Response, next: NextFunction) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || req.is(['application/json', '+json', 'application/x-ndjson', ...YAML_MEDIA_TYPES])) return next();
    send(res, toErrorResponse(unsupportedMediaType(req.headers['content-type'])));
  };
  const nulInUrl = (req: Request, res: Response, next: NextFunction) => {
    if (!/%00/.test(req.url)) return next();
    send(res, errorResponse('invalid_text', NUL_MESSAGE('the URL (%00)')));
  };
  const lonelySurrogates = (req: WithSurrogateEscapes, res: Response, next: NextFunction) => {
    if (!req.surrogateEscapes || wellFormed(req.body)) return next();
    send(
      res,
      errorResponse(
        'invalid_text',
        'a string of the body holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair), which is not text Postgres can store; send well-formed Unicode',
      ),
    );
  };
  const parserError = (err: any, req: Request): { status: number; body: ErrorBody } => {
    if (err.type === 'entity.too.large') {
      // raw-body says the declared length when there is one, else how far it read before stopping.
      const declared = Number(req.headers['content-length']);
      const actual =
        Number.isFinite(declared) && declared > 0 ? { bytes: declared } : typeof err.received === 'number' ? { bytes: err.received, atLeast: true } : undefined;
      return toErrorResponse(
        YAML_MEDIA_TYPES.some((t) => req.is(t))
          ? bodyTooLarge('the constitution', yamlLimit, 'AMEND_MAX_CONSTITUTION_BYTES', '', actual)
          : bodyTooLarge(
              'the body',
              limit,
              'AMEND_MAX_BODY_BYTES',
              '; send a large run as JSON Lines (Content-Type: application/x-ndjson: a first line with the run options, then one prompt a line), which is streamed',
              actual,
            ),
      );
    }
    if (err.type === NUL_TEXT) return errorResponse('invalid_text', NUL_MESSAGE('a string of the body (\\u0000)'));
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') return errorResponse('unsupported_encoding', err.message);
    return errorResponse('invalid_json', `the body is not valid JSON: ${err.message}`);
  };
  return [
    nulInUrl,
    knownType,
    parse,
    yaml,
    lonelySurrogates,
    (err: any, req: Request, res: Response, next: NextFunction) => {
      if (!err) return next();
      send(res, parserError(err, req));
    },
  ];
}

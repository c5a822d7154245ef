import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { LIMITS, type ErrorBody } from '@amend/contracts';

/** Media types a constitution may be published as, besides JSON. */
export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** The JSON text of a constitution request as received, so schema errors can name its lines. */
export type WithRawBody = Request & { rawBody?: string };

/**
 * JSON bodies with an explicit size limit, and YAML bodies (as text) for publishing
 * constitutions; parser failures answer with the design's error body.
 */
export function jsonBodyParser() {
  const limit = LIMITS.bodyBytes();
  const yamlLimit = LIMITS.constitutionBytes();
  const parse = express.json({
    limit,
    // Only constitution bodies are kept as text: they are small, a run's body can be 100 MB.
    verify: (req: IncomingMessage, _res, buf) => {
      if (req.url?.startsWith('/v1/constitutions') && buf.length <= yamlLimit) (req as WithRawBody).rawBody = buf.toString('utf8');
    },
  });
  const yaml = express.text({ type: YAML_MEDIA_TYPES, limit: yamlLimit });
  return [
    parse,
    yaml,
    (err: any, req: Request, res: Response, next: NextFunction) => {
      if (!err) return next();
      let status = 400;
      let body: ErrorBody = { error: { code: 'invalid_json', message: `the body is not valid JSON: ${err.message}` } };
      if (err.type === 'entity.too.large') {
        status = 413;
        const isYaml = YAML_MEDIA_TYPES.some((t) => req.is(t));
        body = {
          error: {
            code: 'body_too_large',
            message: isYaml
              ? `the constitution is larger than the limit of ${yamlLimit} bytes (AMEND_MAX_CONSTITUTION_BYTES)`
              : `the body is larger than the limit of ${limit} bytes (AMEND_MAX_BODY_BYTES); split the prompts over several runs`,
            details: { limit_bytes: isYaml ? yamlLimit : limit },
          },
        };
      } else if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
        status = 415;
        body = { error: { code: 'unsupported_encoding', message: err.message } };
      }
      res.status(status).json(body);
    },
  ];
}

import express, { type NextFunction, type Request, type Response } from 'express';
import { LIMITS, type ErrorBody } from '@amend/contracts';

/** JSON bodies with an explicit size limit; parser failures answer with the design's error body. */
export function jsonBodyParser() {
  const limit = LIMITS.bodyBytes();
  const parse = express.json({ limit });
  return [
    parse,
    (err: any, _req: Request, res: Response, next: NextFunction) => {
      if (!err) return next();
      let status = 400;
      let body: ErrorBody = { error: { code: 'invalid_json', message: `the body is not valid JSON: ${err.message}` } };
      if (err.type === 'entity.too.large') {
        status = 413;
        body = {
          error: {
            code: 'body_too_large',
            message: `the body is larger than the limit of ${limit} bytes (AMEND_MAX_BODY_BYTES); split the prompts over several runs`,
            details: { limit_bytes: limit },
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

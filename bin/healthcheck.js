#!/usr/bin/env node
'use strict';
/**
 * Container health probe: `node bin/healthcheck.js [/path]` exits 0 when the API on $PORT answers
 * the path (default /health, liveness) with 2xx, 1 otherwise. Plain Node, so the slim image needs
 * no curl or wget.
 */
const path = process.argv[2] || '/health';
const port = process.env.PORT || '3000';
const url = `http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;

fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (res) => {
    if (!res.ok) process.stderr.write(`${url}: HTTP ${res.status}\n`);
    process.exit(res.ok ? 0 : 1);
  },
  (err) => {
    process.stderr.write(`${url}: ${(err.cause && err.cause.code) || err.message}\n`);
    process.exit(1);
  },
);

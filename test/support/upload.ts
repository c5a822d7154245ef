import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface UploadAnswer {
  /** The answer's status; 0 when the server reset the connection instead (with `resetIsAnswer`). */
  status: number;
  body: string;
  /** Milliseconds from the start to the answer's headers. */
  ms: number;
  /** Bytes written when the answer came. */
  sent: number;
}

/**
 * POSTs `total` bytes of a JSON body chunk by chunk, as fast as the socket takes them, and
 * answers with the status and how much had been written when it came. The server closing the
 * connection mid-upload after answering is what it should do; a reset before any answer is an
 * error, unless `resetIsAnswer` (the answer may be lost in the reset: it counts as status 0).
 */
export function uploadBytes(url: string, total: number, headers: Record<string, string> = {}, opts: { resetIsAnswer?: boolean } = {}): Promise<UploadAnswer> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(total), ...headers },
    });
    req.on('response', (res) => {
      answered = true;
      const ms = performance.now() - t0;
      const at = sent;
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms, sent: at }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return;
      if (opts.resetIsAnswer && (e.code === 'EPIPE' || e.code === 'ECONNRESET')) resolve({ status: 0, body: '', ms: performance.now() - t0, sent });
      else reject(e);
    });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const pump = () => {
      while (!answered && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

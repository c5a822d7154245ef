import { Writable } from 'node:stream';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyStream, downloadToFile } from './download';

const enc = new TextEncoder();

/** A pull-based body: a chunk is produced only when the reader asks for one. */
function lazyBody(chunks: number, size: number, onPull: () => void, failAt?: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (i === failAt) return controller.error(new Error('connection reset'));
        if (i === chunks) return controller.close();
        i++;
        onPull();
        const line = enc.encode(`${JSON.stringify({ n: i, pad: 'x'.repeat(size) })}\n`);
        controller.enqueue(line);
      },
    },
    { highWaterMark: 0 },
  );
}

function bodyOf(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

describe('streaming exports', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'amend-download-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads no further ahead than the destination accepts, so memory stays flat for any export size', async () => {
    let pulled = 0;
    let written = 0;
    let maxAhead = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, done) {
        written++;
        setImmediate(done);
      },
    });
    const body = lazyBody(2_000, 4096, () => {
      pulled++;
      maxAhead = Math.max(maxAhead, pulled - written);
    });
    const copied = await copyStream(body, slow);
    expect(copied.lines).toBe(2_000);
    expect(written).toBe(2_000);
    expect(maxAhead).toBeLessThanOrEqual(3);
  });

  it('counts records, including a last line without its newline', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    expect((await copyStream(bodyOf('{"a":1}\n{"a":', '2}\n'), sink)).lines).toBe(2);
    expect((await copyStream(bodyOf('{"a":1}\n{"a":2}'), sink)).lines).toBe(2);
    expect((await copyStream(bodyOf(''), sink)).lines).toBe(0);
  });

  it('writes the file whole, through a .part file renamed at the end', async () => {
    const path = join(dir, 'ok.jsonl');
    const copied = await downloadToFile(bodyOf('{"a":1}\n', '{"a":2}\n'), path);
    expect(copied).toEqual({ bytes: 16, lines: 2 });
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n');
    expect(existsSync(`${path}.part`)).toBe(false);
  });

  it('leaves no file behind, not even a partial one, when the download breaks off', async () => {
    const path = join(dir, 'broken.jsonl');
    await expect(
      downloadToFile(
        lazyBody(100, 10, () => undefined, 50),
        path,
      ),
    ).rejects.toThrow('connection reset');
    expect((await readdir(dir)).filter((f) => f.startsWith('broken'))).toEqual([]);
  });
});

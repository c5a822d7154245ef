import { Writable } from 'node:stream';
import { runCli, type CliIo } from '../../apps/cli/src/main';
import type { Stack } from './stack';

/** A writable stream that keeps what is written, for driving the CLI in-process. */
export function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

/** `amend --api <the stack> ...argv` in process with `key` (none when empty): its exit code and what it printed. */
export async function amendCli(stack: Stack, key: string, argv: string[], io: Partial<CliIo> = {}): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await runCli(['--api', stack.url, ...argv], { stdout: out.stream, stderr: err.stream, env: { AMEND_API_KEY: key }, tty: false, ...io });
  return { code, out: out.text(), err: err.text() };
}

import childProcess from 'node:child_process';
import * as net from 'node:net';
import { basename } from 'node:path';
import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';

/**
 * The environment of the unit project (`npm run test:unit`): a spec that reaches for Redis,
 * Postgres or chromium fails here with a message that says where it belongs, instead of
 * passing on a machine that happens to run them and hanging on one that does not. Service
 * specs live in test/ or are named `*.int.spec.ts` (see jest.config.js).
 */

/** The service ports: the defaults and whatever the environment points at. */
function servicePorts(): Set<number> {
  const ports = new Set([6379, 5432]);
  for (const name of ['REDIS_URL', 'DATABASE_URL', 'TEST_REDIS_URL', 'TEST_DATABASE_URL']) {
    const value = process.env[name];
    if (!value) continue;
    try {
      const port = Number(new URL(value).port);
      if (port) ports.add(port);
    } catch {
      // Not a URL: nothing to add.
    }
  }
  return ports;
}

/** The port `socket.connect(...)` was called with, in any of its call forms. */
function portOf(args: unknown[]): number | undefined {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) return Number(first);
  if (first && typeof first === 'object' && 'port' in first) return Number((first as { port: unknown }).port);
  return undefined;
}

/** A closed port on the loopback: where child processes of a unit spec find "Redis" and "Postgres". */
const NOWHERE = '127.0.0.1:9';

export default class NoServicesEnvironment extends TestEnvironment {
  private readonly violations: string[] = [];
  private restore: (() => void)[] = [];
  private readonly file: string;

  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    this.file = basename(args[1].testPath);
  }

  private refuse(what: string): Error {
    const message = `${this.file} runs as a unit spec (no services) but ${what}: move it under test/ or name it *.int.spec.ts`;
    this.violations.push(message);
    return new Error(message);
  }

  override async setup(): Promise<void> {
    await super.setup();
    const ports = servicePorts();
    const connect = net.Socket.prototype.connect;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const env = this;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      const port = portOf(args);
      if (port !== undefined && ports.has(port)) throw env.refuse(`connects to port ${port} (Redis or Postgres)`);
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    this.restore.push(() => (net.Socket.prototype.connect = connect));

    const spawn = childProcess.spawn;
    childProcess.spawn = function (this: unknown, command: string, ...rest: unknown[]) {
      if (/chrom/i.test(basename(String(command)))) throw env.refuse(`launches ${command}`);
      return (spawn as (...a: unknown[]) => childProcess.ChildProcess).apply(this, [command, ...rest]);
    } as typeof spawn;
    this.restore.push(() => (childProcess.spawn = spawn));

    // Child processes a spec starts with this environment find no services either.
    Object.assign(this.global.process.env, {
      REDIS_URL: `redis://${NOWHERE}`,
      TEST_REDIS_URL: `redis://${NOWHERE}`,
      DATABASE_URL: `postgres://postgres@${NOWHERE}/test`,
      TEST_DATABASE_URL: `postgres://postgres@${NOWHERE}/test`,
    });
  }

  /** A refused connection may be swallowed by a client that retries: the test that was running fails anyway. */
  handleTestEvent(event: Circus.Event): void {
    if (event.name !== 'test_done' || !this.violations.length) return;
    const message = this.violations.splice(0).join('\n');
    if (!event.test.errors.length) event.test.errors.push(new Error(message));
  }

  override async teardown(): Promise<void> {
    // The patches are process-wide: a jest worker runs the next file, perhaps an integration one, in this process.
    for (const undo of this.restore.splice(0).reverse()) undo();
    await super.teardown();
  }
}

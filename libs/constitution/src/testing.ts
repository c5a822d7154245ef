import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `text` to `rel` under `dir`, making its folders; returns the file's path. For the specs. */
export function writeIn(dir: string, rel: string, text: string): string {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

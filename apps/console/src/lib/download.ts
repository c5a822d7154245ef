import { EXCLUDED_HEADER, parseExcluded } from '@amend/contracts';
import type { Client } from './api';

/**
 * Exports need the key in a header, which a plain link cannot send: fetch the file, then hand it
 * to the browser as a download.
 */
export async function download(client: Client, path: string, filename: string): Promise<number> {
  return (await downloadExport(client, path, filename)).bytes;
}

/** What a download of an export held: its size, its lines, and what it left out (`Amend-Excluded`; null if not said). */
export interface Downloaded {
  bytes: number;
  lines: number;
  excluded: Record<string, number> | null;
}

/** A download of a JSON Lines export, with its lines counted and the server's `Amend-Excluded` read. */
export async function downloadExport(client: Client, path: string, filename: string): Promise<Downloaded> {
  const res = await client.raw(path, { headers: { accept: 'application/x-ndjson' } });
  const blob = await res.blob();
  const text = await blob.text();
  const lines = text.split('\n').filter((l) => l.trim() !== '').length;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { bytes: blob.size, lines, excluded: parseExcluded(res.headers.get(EXCLUDED_HEADER)) };
}

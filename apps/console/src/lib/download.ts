import type { Client } from './api';

/**
 * Exports need the key in a header, which a plain link cannot send: fetch the file, then hand it
 * to the browser as a download.
 */
export async function download(client: Client, path: string, filename: string): Promise<number> {
  const res = await client.raw(path, { headers: { accept: 'application/x-ndjson' } });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob.size;
}

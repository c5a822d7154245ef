/** Where worker `id` (1, 2, ...) of a cluster primary writes the CPU profile the primary was asked for in `file`. */
export function childProfileFile(file: string, id: number): string {
  return file.replace(/\.cpuprofile$/, `-child${id}.cpuprofile`);
}

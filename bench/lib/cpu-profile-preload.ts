/**
 * Preloaded (`-r`) into the API and the worker when the bench runs with --cpu-prof. Profiles only
 * the measured window: the harness sends {cpuProf: 'start'} over IPC before POST /v1/runs and
 * {cpuProf: 'stop', file} once the run completed. (`node --cpu-prof` would profile the boot too,
 * and writes nothing when Nest's shutdown hook ends the process by re-raising SIGTERM.)
 */
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { childProfileFile } from './profile-files';

const session = new Session();
session.connect();
// Ticks every 0.5 ms: ~2000 samples a second, enough for a 5-20 s window.
session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }));

process.on('message', (msg: { cpuProf?: 'start' | 'stop'; file?: string }) => {
  // WORKER_PROCESSES > 1: the primary passes each message on to its workers (forked with this
  // preload too), each writing its own profile beside the primary's (childProfileFile).
  if (msg?.cpuProf && cluster.isPrimary) {
    for (const [id, w] of Object.entries(cluster.workers ?? {})) w?.send({ ...msg, ...(msg.file && { file: childProfileFile(msg.file, Number(id)) }) });
  }
  if (msg?.cpuProf === 'start') session.post('Profiler.start');
  if (msg?.cpuProf === 'stop' && msg.file) {
    const file = msg.file;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(file, JSON.stringify(res.profile));
    });
  }
});
// The IPC channel must not keep the process alive on its own.
process.channel?.unref();

/**
 * Preloaded (`-r`) into the API by the export scenario: answers {memoryUsage: true} over IPC with
 * process.memoryUsage(), so the report can say which part of the RSS grew (V8 heap, external
 * buffers) without instrumenting the app.
 */
process.on('message', (msg: { memoryUsage?: boolean }) => {
  if (msg?.memoryUsage) process.send?.({ memoryUsage: process.memoryUsage() });
});
// The IPC channel must not keep the process alive on its own.
process.channel?.unref();

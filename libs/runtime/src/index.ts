export * from './tokens';
export * from './sample-queue';
export * from './constitution-cache';
export * from './runtime.module';
export * from './redis-connection';
export * from './metrics';
export * from './evaluation-closer';
export * from './tracing';
export { GEN_AI, SIMULATOR_PROVIDER, genAiTarget } from './gen-ai';

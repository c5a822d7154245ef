export * from './errors';
export { classifyError } from './classify-error';
export { retryAfterMs, type HeaderLookup } from './retry-after';
export { DEFAULT_RETRY, backoffDelay, withRetries, sleep, type RetryOptions, type RetryEvent } from './retry';
export * from './models-config';
export { chatRequestBody, type ChatRequestBody } from './request-body';
export { OpenAICompatibleModel, DEFAULT_TIMEOUT_MS, type OpenAICompatibleModelOptions } from './openai-model';
export * from './limits';
export { ModelRegistry, type ModelRegistryOptions, type ModelDescription } from './model-registry';
export {
  simulateCompletion,
  SIMULATOR_MODEL,
  SIMULATOR_FINGERPRINT,
  type SimulatorRequestBody,
  type SimulatedCompletion,
} from './simulator/simulate';
export { FAIL_400_MARKER, hasFail400Marker } from './simulator/markers';
export { SimulatorModel, type SimulatorModelOptions } from './simulator/simulator-model';
export { type Fault, type FaultOptions } from './simulator/faults';
export {
  startSimulatorServer,
  type SimulatorServer,
  type SimulatorServerOptions,
  type SimulatorStats,
} from './simulator/server';

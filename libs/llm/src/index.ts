export * from './errors';
export { classifyError } from './classify-error';
export { retryAfterMs, type HeaderLookup } from './retry-after';
export { DEFAULT_RETRY, backoffDelay, withRetries, sleep, type RetryOptions, type RetryEvent } from './retry';
export * from './models-config';
export {
  appliedAnswerMode,
  chatRequestBody,
  structuredOutputMode,
  STRUCTURED_OUTPUT_MODES,
  type ChatRequestBody,
  type StructuredOutputMode,
} from './request-body';
export { completionResult } from './completion-result';
export { OpenAIBatchClient, type BatchClientOptions, type ProviderBatch } from './batch/batch-client';
export {
  BATCH_LIMITS,
  splitIntoFiles,
  readResultFile,
  inputLine,
  type BatchLimits,
  type BatchRequestLine,
  type BatchFilePart,
  type BatchLineResult,
} from './batch/batch-lines';
export { OpenAICompatibleModel, DEFAULT_TIMEOUT_MS, type OpenAICompatibleModelOptions } from './openai-model';
export * from './limits';
export { ModelRegistry, type ModelRegistryOptions, type ModelDescription } from './model-registry';
export { simulateCompletion, SIMULATOR_MODEL, SIMULATOR_FINGERPRINT, type SimulatorRequestBody, type SimulatedCompletion } from './simulator/simulate';
export { FAIL_400_MARKER, hasFail400Marker } from './simulator/markers';
export { SimulatorModel, type SimulatorModelOptions } from './simulator/simulator-model';
export { type Fault, type FaultOptions } from './simulator/faults';
export { type BatchBehaviour, type BatchApiOptions, type SubmittedLine } from './simulator/batch-api';
export { startSimulatorServer, type SimulatorServer, type SimulatorServerOptions, type SimulatorStats } from './simulator/server';
export { pooledFetch, modelAgent, closeModelAgent } from './transport';

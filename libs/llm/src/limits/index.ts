export { SharedLimiter, DEFAULT_TUNING, type LimiterTuning, type Lease, type WaitReason, type SharedLimiterOptions } from './shared-limiter';
export { RateLimitedModel, type LimiterWait } from './rate-limited-model';
export { parseResetDuration, rateLimitResetMs } from './rate-limit-headers';

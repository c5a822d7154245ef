/*
 * The shared limiter's state lives in Redis so that every worker process of an alias obeys one
 * set of limits. Each operation is one Lua script: atomic, one round trip, and timed by Redis's
 * own clock (TIME), so processes on machines with skewed clocks still agree.
 *
 * KEYS[1] state hash: req, tok (bucket levels), ts (last refill), factor (AIMD multiplier in
 *         [MIN_FACTOR, 1]), paused_until, last_decrease (all ms on Redis's clock)
 * KEYS[2] leases zset: one member per call in flight, scored by its expiry, so the slots of a
 *         process killed with SIGKILL come back by themselves once their leases lapse
 *
 * Token buckets (not fixed windows): a fixed window lets twice the limit through around its
 * edge, and providers that meter per second ("60,000 rpm may be enforced as 1,000 per second")
 * answer that with 429s. A bucket holds BURST_FRACTION of a minute's allowance and refills
 * continuously; the AIMD factor scales both the refill and the bucket, and the in-flight cap.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Levels after refilling since `ts`, clamped to the (factor-scaled) bucket sizes. */
const REFILL = `
local function refill(s, now, rpm, tpm, factor, burst)
  local ts = tonumber(s.ts) or now
  local elapsed = math.max(0, now - ts)
  local req, tok, reqCap, tokCap, reqRate, tokRate = 0, 0, 0, 0, 0, 0
  if rpm > 0 then
    reqRate = rpm * factor / 60000
    reqCap = math.max(1, rpm * burst * factor)
    req = math.min(reqCap, (tonumber(s.req) or reqCap) + elapsed * reqRate)
  end
  if tpm > 0 then
    tokRate = tpm * factor / 60000
    tokCap = math.max(1, tpm * burst * factor)
    tok = math.min(tokCap, (tonumber(s.tok) or tokCap) + elapsed * tokRate)
  end
  return req, tok, reqCap, tokCap, reqRate, tokRate
end
local function load(key)
  local v = redis.call('HMGET', key, 'req', 'tok', 'ts', 'factor', 'paused_until', 'last_decrease')
  return { req = v[1], tok = v[2], ts = v[3], factor = tonumber(v[4]) or 1, paused = tonumber(v[5]) or 0, last_decrease = tonumber(v[6]) or 0 }
end
`;

/**
 * ARGV: rpm, tpm, max_in_flight (0 = unlimited), estimated tokens, lease id ('' = a retry of a
 * call already holding a lease: takes a request, no tokens, no slot), lease ttl ms, burst
 * fraction, idle ttl ms.
 * Returns {1, 0, ''} when admitted, else {0, wait ms (-1: unknown, poll), reason}.
 */
export const ACQUIRE_LUA = `${NOW}${REFILL}
local rpm, tpm, maxf = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local est, lease, leaseTtl, burst, idleTtl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local s = load(KEYS[1])
if s.paused > now then return {0, s.paused - now, 'paused'} end
local req, tok, reqCap, tokCap, reqRate, tokRate = refill(s, now, rpm, tpm, s.factor, tonumber(burst))
local wait, reason = 0, ''
if rpm > 0 and req < 1 then
  wait = math.ceil((1 - req) / reqRate)
  reason = 'requests'
end
if tpm > 0 and lease ~= '' then
  -- A call larger than the whole bucket waits for a full bucket, then runs into debt.
  local need = math.min(est, tokCap)
  if tok < need then
    local w = math.ceil((need - tok) / tokRate)
    if w > wait then wait, reason = w, 'tokens' end
  end
end
if wait > 0 then return {0, wait, reason} end
if maxf > 0 and lease ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local limit = math.max(1, math.floor(maxf * s.factor))
  if redis.call('ZCARD', KEYS[2]) >= limit then return {0, -1, 'in_flight'} end
end
if rpm > 0 then req = req - 1 end
if tpm > 0 and lease ~= '' then tok = tok - est end
redis.call('HSET', KEYS[1], 'req', tostring(req), 'tok', tostring(tok), 'ts', now, 'factor', tostring(s.factor))
redis.call('PEXPIRE', KEYS[1], idleTtl)
if lease ~= '' then
  redis.call('ZADD', KEYS[2], now + leaseTtl, lease)
  redis.call('PEXPIRE', KEYS[2], idleTtl)
end
return {1, 0, ''}
`;

/**
 * The end of a call. ARGV: lease id, token correction (real use minus the estimate), outcome
 * ('ok' | 'failed'), additive step, idle ttl ms.
 * A success adds the step to the factor (additive increase); a failure changes nothing here:
 * 429s are reported by RATE_LIMITED_LUA as they happen, attempt by attempt.
 */
export const RELEASE_LUA = `
local lease, delta, outcome, step, idleTtl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREM', KEYS[2], lease)
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if delta ~= 0 then
  local tok = tonumber(redis.call('HGET', KEYS[1], 'tok'))
  if tok then redis.call('HSET', KEYS[1], 'tok', tostring(tok - delta)) end
end
if outcome == 'ok' then
  local factor = tonumber(redis.call('HGET', KEYS[1], 'factor')) or 1
  if factor < 1 then redis.call('HSET', KEYS[1], 'factor', tostring(math.min(1, factor + step))) end
end
redis.call('PEXPIRE', KEYS[1], idleTtl)
return 1
`;

/**
 * A 429. ARGV: pause ms (from retry-after / x-ratelimit-reset-*; 0 = none), decrease factor,
 * minimum factor, cooldown ms, idle ttl ms.
 * Multiplicative decrease at most once per cooldown: sixty-four calls that were in flight
 * together and all got 429 are one signal, not sixty-four halvings (TCP halves once per RTT).
 * Returns the factor now in force.
 */
export const RATE_LIMITED_LUA = `${NOW}
local pause, md, minf, cooldown, idleTtl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'factor', 'paused_until', 'last_decrease')
local factor, paused, last = tonumber(v[1]) or 1, tonumber(v[2]) or 0, tonumber(v[3]) or 0
if now - last >= cooldown then
  factor = math.max(minf, factor * md)
  redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'last_decrease', now)
end
if pause > 0 and now + pause > paused then redis.call('HSET', KEYS[1], 'paused_until', now + pause) end
redis.call('PEXPIRE', KEYS[1], idleTtl)
return tostring(factor)
`;

/** Extends the leases this process still holds. ARGV: lease ttl ms, then the lease ids. */
export const RENEW_LUA = `${NOW}
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[2], math.max(ttl * 4, 600000))
return 1
`;

-- Admission to the shared HubSpot budget, atomically, on Redis's own clock.
--
-- KEYS: 1 burst log (ZSET), 2 search log (ZSET), 3 background pacer (TAT, ms),
--       4 interactive waiters (ZSET scored by expiry), 5 burst cooldown, 6 search cooldown,
--       7 daily counter, 8 daily block, 9 interactive pacer (TAT, ms)
-- ARGV: 1 lane ('i' | 'b'), 2 bucket ('burst' | 'search'), 3 member, 4 burst capacity,
--       5 burst interval ms, 6 search capacity, 7 hold ms (in flight until answered),
--       8 background spacing ms, 9 background tolerance ms, 10 daily limit (0: none),
--       11 ms until the daily reset, 12 waiter member, 13 waiter ttl ms,
--       14 interactive tolerance ms
-- Returns {1, 0, used} admitted; {0, wait_ms, used} not now; {-1, reset_ms, used} daily spent.
--
-- Each log holds one entry per admitted request. An entry is scored in the future (now +
-- hold) while its request is in flight, so it counts until it is answered, then `release`
-- rescores it at the answer time. Counting every entry above `now - interval` is therefore an
-- exact sliding log: no window can ever hold more than the capacity, whatever the latency.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lane, bucket = ARGV[1], ARGV[2]
local burst_cap, iv = tonumber(ARGV[4]), tonumber(ARGV[5])
local search_cap = tonumber(ARGV[6])

local function wait_as_interactive()
  if lane == 'i' then
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[13]), ARGV[12])
    redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[13]) * 2)
  end
end

local blocked = redis.call('PTTL', KEYS[8])
if blocked > 0 then return {-1, blocked, 0} end
local daily_limit = tonumber(ARGV[10])
if daily_limit > 0 and tonumber(redis.call('GET', KEYS[7]) or '0') >= daily_limit then
  return {-1, tonumber(ARGV[11]), 0}
end

local cooldown = redis.call('PTTL', KEYS[5])
if bucket == 'search' then cooldown = math.max(cooldown, redis.call('PTTL', KEYS[6])) end
if cooldown > 0 then
  wait_as_interactive()
  return {0, cooldown, 0}
end

-- Interactive callers anywhere go first: background work yields while one waits.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if lane == 'b' and redis.call('ZCARD', KEYS[4]) > 0 then
  return {0, math.max(1, tonumber(ARGV[8])), 0}
end

local function room(key, cap, interval)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - interval)
  local n = redis.call('ZCARD', key)
  if n < cap then return 0, n end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + interval - now), n
end

-- Search has its own per-second budget; HubSpot excludes it from the burst window.
local log, cap, window = KEYS[1], burst_cap, iv
if bucket == 'search' then log, cap, window = KEYS[2], search_cap, 1000 end
local wait, used = room(log, cap, window)
if wait > 0 then
  wait_as_interactive()
  return {0, wait, used}
end

if bucket == 'burst' then
  -- Each lane's pacer (GCRA, under the log): background evenly spaced, interactive after a
  -- burst of ARGV[14] ms worth of slots.
  local pacer, tolerance = KEYS[3], tonumber(ARGV[9])
  if lane == 'i' then pacer, tolerance = KEYS[9], tonumber(ARGV[14]) end
  local tat = math.max(tonumber(redis.call('GET', pacer) or '0'), now)
  local over = tat - now - tolerance
  if over > 0 then
    wait_as_interactive()
    return {0, over, used}
  end
  redis.call('SET', pacer, tat + tonumber(ARGV[8]), 'PX', iv * 2)
end

local hold = now + tonumber(ARGV[7])
redis.call('ZADD', log, hold, ARGV[3])
redis.call('PEXPIRE', log, tonumber(ARGV[7]) + window * 2)
if lane == 'i' then redis.call('ZREM', KEYS[4], ARGV[12]) end
redis.call('INCR', KEYS[7])
redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[11]) + 3600000)
return {1, 0, used + 1}

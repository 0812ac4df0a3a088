package budget

import (
	"context"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// allowAbove is redis_rate's GCRA script for one call (allowN in
// github.com/go-redis/redis_rate/v10 v10.0.1, MIT; the same key, "rate:"
// and the account, and the same value, the theoretical arrival time in
// seconds since 2017) with a reserve: the call is allowed only if at
// least ARGV[4] calls are left after it, checked and taken in one script,
// so that no number of concurrent callers of a lower class can take from
// the reserve of the classes above (a check and a take in two calls let
// every waiting dashboard pass the check at once). redis_rate has no
// reserve; classes without one use it as it is (takeRedis).
var allowAbove = redis.NewScript(`
redis.replicate_commands()

local rate_limit_key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])

local emission_interval = period / rate
local burst_offset = emission_interval * burst

local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)

local tat = redis.call("GET", rate_limit_key)
if not tat then
  tat = now
else
  tat = tonumber(tat)
end
tat = math.max(tat, now)

local new_tat = tat + emission_interval
local allow_at = new_tat - burst_offset
local remaining = (now - allow_at) / emission_interval -- left after this call

if remaining < reserve then
  local left = math.max(0, math.floor(remaining + 1))
  return {0, left, tostring((reserve - remaining) * emission_interval)}
end

local reset_after = new_tat - now
if reset_after > 0 then
  redis.call("SET", rate_limit_key, new_tat, "EX", math.ceil(reset_after))
end
return {1, math.floor(remaining), "-1"}
`)

// redisRatePrefix is redis_rate's key prefix (its redisPrefix).
const redisRatePrefix = "rate:"

// takeAbove runs allowAbove: one call if res are left after it, else when
// to ask again.
func takeAbove(ctx context.Context, rc redis.Scripter, key string, lim redis_rate.Limit, res int) (bool, int, time.Duration, error) {
	v, err := allowAbove.Run(ctx, rc, []string{redisRatePrefix + key}, lim.Burst, lim.Rate, lim.Period.Seconds(), res).Slice()
	if err != nil {
		return false, 0, 0, err
	}
	allowed, _ := v[0].(int64)
	left, _ := v[1].(int64)
	s, _ := v[2].(string)
	retry, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false, 0, 0, err
	}
	if allowed == 1 {
		return true, int(left), 0, nil
	}
	return false, int(left), time.Duration(retry * float64(time.Second)), nil
}

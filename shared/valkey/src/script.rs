//! The sliding-window counter, as one Lua script so that reading the counts, deciding and
//! counting happen atomically on the server, whichever instance asks.
//!
//! Two fixed windows approximate a sliding one: the previous window's count is weighted by the
//! part of it the sliding window still covers, `estimate = previous * (1 - elapsed / window) +
//! current`. A request is allowed (and counted in the current window) while `estimate + 1 <=
//! limit`; a limited request is not counted. Time comes from the server (`TIME`), so every
//! instance agrees on which window is current.
//!
//! Keys: `KEYS[1]` is the client's prefix (`everruns:rl:{<key>}`); the script appends
//! `:<window index>` (the window keys depend on the server's clock, so they cannot be declared
//! up front; standalone Valkey does not require it). The braces make the prefix a hash tag, so
//! both windows' keys live in the prefix's slot should the deployment ever be a cluster. Each
//! window key expires two windows after its last count, when it can no longer weigh in.
//!
//! Retry-after: how long until `estimate + 1 <= limit` holds with no further counts.
//! * While `current <= limit - 1`, only the previous window's weight is in the way, and it
//!   shrinks linearly: wait until `previous * (1 - (elapsed + t) / window) <= limit - 1 - current`,
//!   i.e. `t = window * (1 - (limit - 1 - current) / previous) - elapsed` (before this window ends).
//! * Otherwise (`current >= limit`) this window cannot allow any more; in the next one `current`
//!   becomes the weighted previous count: wait for the rest of this window plus `s` with
//!   `current * (1 - s / window) <= limit - 1`, i.e. `s = window * (1 - (limit - 1) / current)`.
//!
//! The wait is rounded up to whole milliseconds and is at least 1 ms. It can exceed a window: a
//! budget used up early in a window is still mostly counted one window later (the previous count
//! weighs `1 - elapsed / window`), so the exact wait is up to `window + window / limit` (two
//! windows when `limit` is 1). It is capped at two windows (a limit lowered while old counts
//! remain could otherwise ask for more).

/// `KEYS[1]`: the client's prefix. `ARGV[1]`: the limit (at least 1). `ARGV[2]`: the window in
/// milliseconds (at least 1). Returns 0 when the request is allowed and counted, otherwise the
/// milliseconds to wait (1 to two windows).
pub(crate) const SLIDING_WINDOW: &str = r"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local index = math.floor(now / window)
local elapsed = now - index * window
local current_key = KEYS[1] .. ':' .. string.format('%d', index)
local previous_key = KEYS[1] .. ':' .. string.format('%d', index - 1)
local counts = redis.call('MGET', current_key, previous_key)
local current = tonumber(counts[1]) or 0
local previous = tonumber(counts[2]) or 0
if previous * (1 - elapsed / window) + current + 1 <= limit then
  redis.call('INCR', current_key)
  redis.call('PEXPIRE', current_key, 2 * window)
  return 0
end
local spare = limit - 1 - current
local wait
if spare >= 0 and previous > 0 then
  wait = window * (1 - spare / previous) - elapsed
else
  wait = (window - elapsed) + window * (1 - (limit - 1) / math.max(current, 1))
end
wait = math.ceil(wait)
if wait < 1 then wait = 1 end
if wait > 2 * window then wait = 2 * window end
return wait
";

/// The Redis key prefix of one client's counters.
pub(crate) fn key_prefix(key: &str) -> String {
    format!("everruns:rl:{{{key}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_hash_tagged() {
        assert_eq!(key_prefix("203.0.113.7"), "everruns:rl:{203.0.113.7}");
        assert_eq!(key_prefix("2001:db8::1"), "everruns:rl:{2001:db8::1}");
    }
}

package readapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gomodule/redigo/redis"
)

// limiter is the read API's own rate limit, shaped like GitHub's: each
// token has perHour reads in an hour that starts with its first read, and
// every answer says how many are left in X-RateLimit-* headers. The
// counters live in Redis so that every web process shares them.
type limiter struct {
	pool    *redis.Pool
	prefix  string
	perHour int
	now     func() time.Time
}

// unconfirmedPerMinute bounds the tokens one address may have us ask
// GitHub about in a minute: garbage tokens cost a GitHub call each, and
// GitHub blocks an address that sends many bad credentials.
const unconfirmedPerMinute = 600

// window is one counter's state after a read was counted.
type window struct {
	limit, used int
	reset       time.Time
}

func (w window) spent() bool { return w.used > w.limit }

// countScript adds one to a counter and starts its window on the first
// read, in one round trip; it answers the count and the seconds left.
var countScript = redis.NewScript(1, `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`)

// count counts one read of the token (by its hash).
func (l *limiter) count(ctx context.Context, th string) (window, error) {
	return l.add(ctx, "rate:"+th, l.perHour, time.Hour)
}

// countUnconfirmed counts one GitHub check of a token from addr.
func (l *limiter) countUnconfirmed(ctx context.Context, addr string) (window, error) {
	return l.add(ctx, "unconfirmed:"+addr, unconfirmedPerMinute, time.Minute)
}

func (l *limiter) add(ctx context.Context, key string, limit int, span time.Duration) (window, error) {
	conn, err := l.pool.GetContext(ctx)
	if err != nil {
		return window{}, fmt.Errorf("count a read: connect to Redis: %w", err)
	}
	defer conn.Close()
	vals, err := redis.Int64s(countScript.Do(conn, l.prefix+key, int64(span/time.Second)))
	if err != nil || len(vals) != 2 {
		return window{}, fmt.Errorf("count a read in Redis: %w", err)
	}
	return window{limit: limit, used: int(vals[0]), reset: l.now().Add(time.Duration(vals[1]) * time.Second)}, nil
}

// setHeaders writes GitHub's rate limit headers for w.
func setRateHeaders(h http.Header, w window) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(w.limit-w.used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(min(w.used, w.limit)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(w.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

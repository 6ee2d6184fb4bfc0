package upload

import (
	"math"

	"golang.org/x/time/rate"
)

// MinLimiterBurst is the smallest burst NewLimiter gives: twice the 32 KiB
// the HTTP client reads from a request body at a time, so that a read is
// never cut in two by the limiter, whatever the rate.
const MinLimiterBurst = 64 << 10

// NewLimiter returns a limiter for Options.Limiter that lets bytesPerSecond
// bytes of parts go per second, over all the connections of every upload
// that shares it; nil (no cap) when bytesPerSecond is not positive.
//
// Its burst is a tenth of a second of the rate, at least MinLimiterBurst.
// A read of a part's body waits on the limiter for its bytes and is cut to
// at most the burst, so the burst is both the most that can go at once
// after an idle moment (the first 100 ms's worth of a run go at once) and
// the slack for late wake-ups: the bucket only loses tokens when no read
// has asked for any for 100 ms (every sender late, or busy elsewhere). A
// smaller burst loses rate to scheduling delays when many connections
// share a limiter; a larger one lets through bursts that a router's queue
// would drop. Measured on 256 MiB over 8 connections at 32 and 64 MiB/s
// (BenchmarkLimitRate), the achieved rate is within 1.5 % of the cap, where
// a flat 64 KiB burst falls up to 3 % short and a second's worth overshoots
// by 14 to 33 %; the limiter's own work is about 1 % of a core
// (docs/benchmarks-history.md, "--limit-rate").
func NewLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := min(max(bytesPerSecond/10, MinLimiterBurst), math.MaxInt32)
	return rate.NewLimiter(rate.Limit(bytesPerSecond), int(burst))
}

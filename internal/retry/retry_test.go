package retry

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

var errFlaky = errors.New("flaky")

func TestBackoffIsFullJitterUnderACeiling(t *testing.T) {
	p := Policy{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for n, ceiling := range []time.Duration{10, 20, 40, 80, 80, 80} {
		ceiling *= time.Millisecond
		var seenLow, seenHigh bool
		for range 2000 {
			d := p.Backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("Backoff(%d) = %v, outside [0, %v]", n, d, ceiling)
			}
			seenLow = seenLow || d < ceiling/4
			seenHigh = seenHigh || d > ceiling*3/4
		}
		if !seenLow || !seenHigh {
			t.Fatalf("Backoff(%d) is not spread over [0, %v]", n, ceiling)
		}
	}
	if d := p.Backoff(1000); d > p.Max {
		t.Fatalf("Backoff(1000) = %v overflows past Max", d)
	}
}

func fast(retries int) Policy {
	return Policy{Retries: retries, Base: time.Microsecond, Max: time.Microsecond}
}

func TestDoStopsOnSuccessAndOnPermanentErrors(t *testing.T) {
	calls := 0
	err := Op{Policy: fast(5), Classify: func(error) Verdict { return Verdict{Retry: true} }}.Do(context.Background(), func() error {
		calls++
		if calls < 3 {
			return errFlaky
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want success on the 3rd", err, calls)
	}
	calls = 0
	err = Op{Policy: fast(5), Classify: func(error) Verdict { return Verdict{} }}.Do(context.Background(), func() error { calls++; return errFlaky })
	if !errors.Is(err, errFlaky) || calls != 1 {
		t.Fatalf("a permanent error was retried: %v after %d calls", err, calls)
	}
}

func TestDoGivesUpAfterRetries(t *testing.T) {
	calls, retries := 0, 0
	err := Op{Policy: fast(3), Classify: func(error) Verdict { return Verdict{Retry: true} },
		OnRetry: func(Attempt) { retries++ }}.Do(context.Background(), func() error { calls++; return errFlaky })
	var ex *ExhaustedError
	if !errors.As(err, &ex) || !errors.Is(err, errFlaky) || calls != 4 || retries != 3 {
		t.Fatalf("Do = %v after %d calls and %d retries, want exhaustion after 1 + 3", err, calls, retries)
	}
}

// The budget counts failures since the last progress, not in all.
func TestDoResetsTheBudgetOnProgress(t *testing.T) {
	var progress atomic.Int64
	calls := 0
	err := Op{Policy: fast(2), Classify: func(error) Verdict { return Verdict{Retry: true} }, Progress: progress.Load}.Do(context.Background(), func() error {
		calls++
		if calls%2 == 0 {
			progress.Add(1) // some other part got through
		}
		if calls < 10 {
			return errFlaky
		}
		return nil
	})
	if err != nil {
		t.Fatalf("with progress between failures, 9 failures exhausted a budget of 2: %v", err)
	}
}

func TestRetryAfterIsAFloorAndHoldsTheGate(t *testing.T) {
	var gate Gate
	var waits []time.Duration
	calls := 0
	start := time.Now()
	err := Op{Policy: Policy{Retries: 1, Base: time.Microsecond, Max: time.Microsecond}, Gate: &gate,
		Classify: func(error) Verdict { return Verdict{Retry: true, After: 60 * time.Millisecond} },
		OnRetry:  func(a Attempt) { waits = append(waits, a.Wait) }}.Do(context.Background(), func() error {
		calls++
		if calls == 1 {
			return errFlaky
		}
		return nil
	})
	if err != nil || len(waits) != 1 || waits[0] < 60*time.Millisecond || time.Since(start) < 60*time.Millisecond {
		t.Fatalf("Do = %v, waits %v after %v: Retry-After must be waited", err, waits, time.Since(start))
	}
	// Another worker arriving now also waits for the gate.
	gate.Hold(50 * time.Millisecond)
	t0 := time.Now()
	if err := gate.Wait(context.Background()); err != nil || time.Since(t0) < 40*time.Millisecond {
		t.Fatalf("gate.Wait returned after %v (%v)", time.Since(t0), err)
	}
}

func TestDoStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Op{Policy: Policy{Retries: 100, Base: time.Hour, Max: time.Hour}, Classify: func(error) Verdict { return Verdict{Retry: true} },
		OnRetry: func(Attempt) { cancel() }}.Do(ctx, func() error { calls++; return errFlaky })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want to stop at once on cancel", err, calls)
	}
}

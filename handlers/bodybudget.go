package handlers

import (
	"errors"
	"io"
	"sync"
)

// DefaultMaxBodyBytesInFlight caps the webhook body bytes held at once
// across all requests: two full-size GitHub payloads and room for the
// small ones.
const DefaultMaxBodyBytesInFlight = 64 << 20

// bodyBudget is a weighted semaphore that never waits: a request takes
// its share at once or is turned away, so a flood of large bodies costs
// a 503 each instead of memory or a queue of blocked goroutines.
type bodyBudget struct {
	mu   sync.Mutex
	free int64
}

func newBodyBudget(total int64) *bodyBudget { return &bodyBudget{free: total} }

// tryAcquire takes n bytes of the budget if they are free now.
func (b *bodyBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
}

// available is what tryAcquire could take now (tests).
func (b *bodyBudget) available() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.free
}

// errBodyTooLarge is a body longer than the endpoint accepts.
var errBodyTooLarge = errors.New("payload too large")

// readBody reads a body of declared length (-1: unknown) of at most limit
// bytes. A declared length is read into one buffer of exactly that size;
// an unknown one grows by doubling up to limit, so the memory it holds
// never passes the share taken for it.
func readBody(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared > limit {
		return nil, errBodyTooLarge
	}
	if declared >= 0 {
		buf := make([]byte, declared)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf := make([]byte, 0, min(limit, 32<<10))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				// Full: one byte more means the body is over the limit.
				var probe [1]byte
				n, err := io.ReadFull(r, probe[:])
				switch {
				case n > 0:
					return nil, errBodyTooLarge
				case errors.Is(err, io.EOF):
					return buf, nil
				default:
					return nil, err
				}
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

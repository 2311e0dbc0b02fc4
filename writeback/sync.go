package writeback

import (
	"time"
)

// writeAll runs passes until one leaves no group behind.
func (e *Engine) writeAll() error {
	backoff := 50 * time.Microsecond
	for {
		res, err := e.pass()
		if err != nil {
			return err
		}
		if res.skipped == 0 && res.deferred == 0 {
			return nil
		}
		if res.skipped == 0 && res.written {
			// Groups waited for unit buffers that this pass used and gave
			// back: go on at once.
			continue
		}
		// A writer held a folio of a group between its reservation and its
		// commit: that is short, try again.
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Millisecond)
	}
}

// Err returns the error of the last writeback pass, or nil when the last
// pass wrote everything it found.
func (e *Engine) Err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.werr
}

func (e *Engine) recordResult(err error) {
	if err != nil {
		e.stats.errors.Add(1)
	}
	e.errMu.Lock()
	e.werr = err
	e.errMu.Unlock()
}

// flusher is the background writeback goroutine: it runs a pass when the
// cache asks for one (dirty bytes over the background threshold, or a
// writer waiting for memory) and, every flush interval, when anything is
// dirty; when nothing is, it lets the device clean ahead. After a failed pass it waits for the next tick (or a request)
// before trying again.
func (e *Engine) flusher() {
	defer close(e.done)
	var tick <-chan time.Time
	if e.ticker > 0 {
		t := time.NewTicker(e.ticker)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-e.stop:
			return
		case <-e.cache.NeedWriteback():
			e.stats.throttles.Add(1)
			e.background()
		case <-tick:
			if e.cache.DirtyBytes() > 0 {
				e.background()
			} else {
				e.cleanAhead()
			}
		}
	}
}

// background runs passes while the dirty bytes stay over the background
// threshold, stopping at the first error, at a pass that could write
// nothing, or when asked to stop.
func (e *Engine) background() {
	for {
		res, err := e.pass()
		if err != nil || !res.written {
			return // failed, or nothing it could write: wait for the next request or tick
		}
		select {
		case <-e.stop:
			return
		default:
		}
		if !e.cache.OverBackground() {
			return
		}
	}
}

// aheadCleaner is a device that can do its housekeeping early, while
// nothing waits for it (blockdev/cow cleans segments).
type aheadCleaner interface {
	CleanAhead() (bool, error)
}

// cleanAhead lets the device clean while the cache has nothing dirty, one
// round at a time, until it has nothing to gain, a write arrives, or the
// engine stops. An error is left for the next write or Sync to report: the
// device refuses writes after a failure.
func (e *Engine) cleanAhead() {
	c, ok := e.dev.(aheadCleaner)
	if !ok {
		return
	}
	for e.cache.DirtyBytes() == 0 {
		select {
		case <-e.stop:
			return
		default:
		}
		gained, err := c.CleanAhead()
		if err != nil || !gained {
			return
		}
		e.stats.cleanAhead.Add(1)
	}
}

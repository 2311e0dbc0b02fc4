package atomicio

import (
	"context"
	"sync"
	"time"
)

// writeWait is the context a write waits for memory with. Its clock starts
// at the first wait, not at the write: a write that never waits (the
// common case) costs no timer, no channel and no allocation, since
// writeWaits are pooled per File.
type writeWait struct {
	timeout time.Duration

	mu    sync.Mutex // guards the fields below
	done  chan struct{}
	timer *time.Timer
	err   error
}

var _ context.Context = (*writeWait)(nil)

func (w *writeWait) Deadline() (time.Time, bool) { return time.Time{}, false }
func (w *writeWait) Value(any) any               { return nil }

// Done starts the clock on its first call.
func (w *writeWait) Done() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done == nil {
		ch := make(chan struct{})
		w.done = ch
		w.timer = time.AfterFunc(w.timeout, func() {
			w.mu.Lock()
			if w.done == ch {
				w.err = context.DeadlineExceeded
			}
			w.mu.Unlock()
			close(ch)
		})
	}
	return w.done
}

func (w *writeWait) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// reset makes w ready for another write.
func (w *writeWait) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.done, w.timer, w.err = nil, nil, nil
}

package writeback

import "time"

// Group commit: a Sync does not run a pass of its own when a pass can
// carry its writes. Every change a Sync must cover (a write, a batch, a
// cut, a size) takes a number from writeSeq under mu, and every pass, at
// its snapshot (under mu too), records the number it reached: a pass whose
// snapshot number is at least the one a Sync read when it began holds
// every write that returned before that Sync, so when the pass wrote
// everything it found, flushed and returned without error, the Sync is
// done. A Sync therefore
//
//   - joins the pass under way when that pass's snapshot already covers
//     it;
//   - else waits for the next pass (the next snapshot is taken after the
//     Sync began, so it covers it), which the first Sync to find none
//     pending leads: it takes the pass lock and runs the pass, unless a
//     pass of the flusher or of a writer took that snapshot first (every
//     pass takes the pending ticket);
//   - returns when its pass has ended: after the flush, with the pass's
//     error if it failed, so leader and followers return together and
//     every Sync whose data the pass held sees its error. A pass that left
//     anything in its snapshot dirty (a writer held a folio, no unit buffer
//     was free) covers nobody: its Syncs go round again.
//
// This is jbd2's running and committing transactions, or pebble's
// LogWriter: one flush for every Sync that arrived while the pass before
// it was writing.

// passTicket is one writeback pass as the Syncs waiting for it see it.
type passTicket struct {
	done chan struct{} // closed when the pass has ended (after its flush)
	// written is closed when the pass's device writes returned, before
	// its flush; nil but for the negative control (Config.EarlyFollowers).
	written chan struct{}

	// started and snap are set under Engine.syncMu (and read there), the
	// rest before done is closed (writtenOK before written is).
	started bool   // the pass took its snapshot
	snap    uint64 // writeSeq at the snapshot: the pass carries every change numbered up to it
	syncs   int    // Syncs waiting for it, its leader included (guarded by Engine.syncMu)
	// gathered is closed when syncs reaches want, while the leader waits
	// for the committers of the last pass (see gather.go); nil otherwise.
	// Both guarded by Engine.syncMu.
	gathered  chan struct{}
	want      int
	start     time.Time // the snapshot (passes' durations, for the gathering window)
	complete  bool      // nothing the snapshot held was left dirty, and no error
	wrote     bool      // the pass sent something to the device
	skipped   int       // groups it left because a writer held a folio
	err       error     // the pass's error: every Sync that waited for it returns it
	writtenOK bool      // at written: every write returned without error, nothing left dirty
}

func (e *Engine) newPassTicket() *passTicket {
	t := &passTicket{done: make(chan struct{})}
	if e.early {
		t.written = make(chan struct{})
	}
	return t
}

// changedLocked numbers a change to the cached file (a write, a batch, a
// cut, a size) for Syncs.
// REQUIRES: e.mu held.
func (e *Engine) changedLocked() { e.writeSeq.Add(1) }

// Sync writes back everything that was dirty when it started and flushes
// the device: when it returns nil, every write that returned before Sync
// was called is durable, each untorn unit whole. It shares the pass (one
// device flush, and in COW mode one group commit) with every other Sync
// the pass covers: see join.go. It returns an error wrapping the device's
// when the pass that carried its data failed; the data stays dirty and the
// next Sync tries again (and fails again, until the data is written).
func (e *Engine) Sync() error {
	if e.closed.Load() {
		return ErrClosed
	}
	want := e.writeSeq.Load()
	backoff := 50 * time.Microsecond
	for {
		t, lead := e.joinPass(want)
		if lead {
			e.leadPass(t)
		} else {
			e.stats.syncsJoined.Add(1)
			if e.early {
				// The negative control: return once the writes returned,
				// before the flush that makes them durable.
				<-t.written
				if t.writtenOK && t.snap >= want {
					return nil
				}
			}
		}
		<-t.done
		if t.err != nil {
			return t.err
		}
		if t.complete && t.snap >= want {
			return nil
		}
		if t.skipped == 0 && t.wrote {
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

// joinPass returns the pass a Sync that began at writeSeq want waits for:
// the one under way when its snapshot covers want, else the next one; lead
// reports that the caller must run the next pass (nobody was waiting for
// it yet).
func (e *Engine) joinPass(want uint64) (t *passTicket, lead bool) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if r := e.running; r != nil && r.snap >= want {
		r.syncs++
		return r, false
	}
	if t := e.next; t != nil {
		t.syncs++
		if t.gathered != nil && t.syncs >= t.want {
			close(t.gathered)
			t.gathered = nil
		}
		return t, false
	}
	e.next = e.newPassTicket()
	e.next.syncs = 1
	return e.next, true
}

// leadPass runs the pass t stands for, unless another pass took it while
// the caller waited for the pass lock.
func (e *Engine) leadPass(t *passTicket) {
	e.passMu.Lock()
	defer e.passMu.Unlock()
	if e.gather(t) {
		_, _ = e.passLocked()
	}
}

// startTicketLocked makes the pending ticket (or a new one, when no Sync
// waits) the pass under way, at the snapshot the pass is taking now.
// REQUIRES: e.passMu and e.mu held.
func (e *Engine) startTicketLocked() *passTicket {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	t := e.next
	if t == nil {
		t = e.newPassTicket()
	}
	e.next = nil
	t.started, t.snap, t.start = true, e.writeSeq.Load(), time.Now()
	e.running = t
	return t
}

// endTicket publishes how the pass went and releases its Syncs.
func (e *Engine) endTicket(t *passTicket, res passResult, err error) {
	t.wrote, t.skipped, t.err = res.written, res.skipped, err
	t.complete = err == nil && res.skipped == 0 && res.deferred == 0
	e.syncMu.Lock()
	if e.running == t {
		e.running = nil
	}
	e.passEndedLocked(t)
	e.syncMu.Unlock()
	if t.written != nil && !t.writtenOK {
		close(t.written) // the pass ended before its writes were all done (see writesReturned)
	}
	close(t.done)
}

// writesReturned tells the negative control's followers, before the
// pass's flush, that its writes returned: ok when all of them succeeded
// and the pass left nothing of its snapshot dirty (see
// Config.EarlyFollowers). It does nothing for an honest engine.
func (t *passTicket) writesReturned(ok bool) {
	if t.written == nil {
		return
	}
	t.writtenOK = ok
	if ok {
		close(t.written)
	}
}

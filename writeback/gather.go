package writeback

import "time"

// Gathering. Syncs that a pass releases together tend to come back
// together: a goroutine that committed writes again and Syncs again. The
// first of them to come back leads the next pass; taking the snapshot at
// once would carry it alone and leave the rest for the pass after, so the
// passes would alternate between a few Syncs and most of them (G
// committers would share a flush G/2 at a time). So a leader first waits,
// briefly, for as many Syncs as the last pass carried, as jbd2 waits for
// other handles before it commits a transaction when several processes
// sync. The wait ends when that many Syncs wait for the pass, or when a
// window has passed since the last pass ended: the last pass's duration,
// at most maxGather. A lone committer (the last pass carried one Sync)
// never waits, nor does a leader that comes later than the window.

// maxGather bounds the window a leader waits for the committers of the
// last pass.
const maxGather = 2 * time.Millisecond

// gather waits, as the leader of pass t, for the committers of the last
// pass (see above), then reports whether t still needs a pass: false when
// another pass took it meanwhile (a writer's or the flusher's, impossible
// while the caller holds passMu, but a pass may have taken it before).
// REQUIRES: e.passMu held.
func (e *Engine) gather(t *passTicket) bool {
	e.syncMu.Lock()
	if t.started {
		e.syncMu.Unlock()
		return false
	}
	wait := time.Until(e.lastEnd.Add(min(e.lastDur, e.maxGather)))
	if e.lastSyncs < 2 || t.syncs >= e.lastSyncs || wait <= 0 {
		e.syncMu.Unlock()
		return true
	}
	t.want = e.lastSyncs
	t.gathered = make(chan struct{})
	ch := t.gathered
	e.syncMu.Unlock()

	timer := time.NewTimer(wait)
	select {
	case <-ch:
		e.stats.gathered.Add(1)
	case <-timer.C:
		e.stats.gatherTimeouts.Add(1)
	}
	timer.Stop()
	e.syncMu.Lock()
	t.gathered = nil
	e.syncMu.Unlock()
	return true
}

// passEndedLocked notes how many Syncs pass t carried and how long it
// took, for the next leader's gathering window.
// REQUIRES: e.syncMu held.
func (e *Engine) passEndedLocked(t *passTicket) {
	if t.syncs == 0 {
		return // a pass of the flusher or a writer that no Sync waited for
	}
	e.lastSyncs = t.syncs
	e.lastEnd = time.Now()
	e.lastDur = e.lastEnd.Sub(t.start)
}

package writeback

import "sync/atomic"

// Stats counts what the engine did since it started.
type Stats struct {
	Passes           int64 // writeback passes (each ends with one device flush)
	NativeAtomic     int64 // untorn units written in place with an Atomic write
	ZeroCopyUnits    int64 // of those, units written straight from the memory of one folio
	PlainWrites      int64 // plain device writes of dirty data outside units
	Batches          int64 // group commits (COW mode)
	BatchPieces      int64 // pieces in those commits
	UntornWrites     int64 // untorn writes accepted
	Merges           int64 // untorn writes merged with a dirty unit they overlapped
	ForcedWritebacks int64 // passes run because a union would have been too large
	Throttles        int64 // background passes asked for by writers short of memory or over the dirty limit
	SkippedGroups    int64 // groups left for a later pass because a writer held a folio
	DeferredGroups   int64 // groups left for a later pass because the unit buffers were taken (native)
	BytesWritten     int64 // bytes handed to the device
	Errors           int64 // passes that failed
	CleanAhead       int64 // cleaning rounds the device ran while nothing was dirty
	BatchCommits     int64 // batches put in the cache by Commit (or written through)
	ThroughCommits   int64 // of those, batches too large for the cache written by CommitThrough
	SizeCommits      int64 // transactions that changed only the file size (COW mode)
	SyncsJoined      int64 // Syncs that waited for a pass another Sync, a writer or the flusher ran (group commit)
	Gathered         int64 // leaders that waited until as many Syncs as the last pass carried had come (gather.go)
	GatherTimeouts   int64 // leaders whose wait for them ended at the window
}

type counters struct {
	passes, nativeAtomic, zeroCopy, plainWrites, batches, batchPieces atomic.Int64
	untorn, merges, forced, throttles, skipped, bytes, errors         atomic.Int64
	cleanAhead, deferred, batchCommits, sizeCommits, throughCommits   atomic.Int64
	syncsJoined, gathered, gatherTimeouts                             atomic.Int64
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	c := &e.stats
	return Stats{
		Passes: c.passes.Load(), NativeAtomic: c.nativeAtomic.Load(), ZeroCopyUnits: c.zeroCopy.Load(),
		PlainWrites: c.plainWrites.Load(), Batches: c.batches.Load(), BatchPieces: c.batchPieces.Load(),
		UntornWrites: c.untorn.Load(), Merges: c.merges.Load(), ForcedWritebacks: c.forced.Load(),
		Throttles: c.throttles.Load(), SkippedGroups: c.skipped.Load(), BytesWritten: c.bytes.Load(),
		Errors: c.errors.Load(), CleanAhead: c.cleanAhead.Load(), DeferredGroups: c.deferred.Load(),
		BatchCommits: c.batchCommits.Load(), SizeCommits: c.sizeCommits.Load(), ThroughCommits: c.throughCommits.Load(),
		SyncsJoined: c.syncsJoined.Load(), Gathered: c.gathered.Load(), GatherTimeouts: c.gatherTimeouts.Load(),
	}
}

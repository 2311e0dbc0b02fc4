package writeback

// ReadSeq returns a token to take before reading device data that will be
// cached with FillIfCurrent.
func (e *Engine) ReadSeq() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ends
}

// FillIfCurrent caches data read from the device at off (page aligned),
// unless a pass finished since seq was taken: then a folio written back
// meanwhile may have been evicted, and data read before its writeback
// would be stale. Pages the cache holds uptodate are never overwritten.
// It reports whether it filled; a failure to get memory is not an error
// (the data is simply not cached).
func (e *Engine) FillIfCurrent(seq uint64, off int64, data []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ends != seq {
		return false
	}
	return e.cache.Fill(off, data) == nil
}

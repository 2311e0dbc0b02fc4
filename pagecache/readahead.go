package pagecache

// Default readahead window bounds.
const (
	DefaultReadaheadMin = 16 << 10
	DefaultReadaheadMax = MaxFolioSize
)

// Readahead is the sequential readahead policy of one file: a window that doubles on every
// sequential miss up to Max and falls back to Min on a random one. It does no I/O; it tells
// the caller what to read on a miss. The zero value uses the defaults. Not safe for
// concurrent use: the caller serializes OnMiss calls.
type Readahead struct {
	Min, Max int // window bounds in bytes; 0 means the defaults

	window  int64 // current window; 0 before the first miss
	next    int64 // end of the last extent returned: where a sequential reader misses next
	lastEnd int64 // end of the last miss
}

// OnMiss is called when a read of [off, off+n) misses the cache at off. It returns the
// page-aligned extent to read from the device and Fill: it starts at the miss and covers
// at least the missed request and at least the window.
func (r *Readahead) OnMiss(off int64, n int) Extent {
	lo, hi := int64(r.Min), int64(r.Max)
	if lo <= 0 {
		lo = DefaultReadaheadMin
	}
	if hi <= 0 {
		hi = DefaultReadaheadMax
	}
	hi = max(hi, lo)
	sequential := r.window > 0 && (off == r.next || off == r.lastEnd)
	if sequential {
		r.window = min(2*r.window, hi)
	} else {
		r.window = lo
	}
	start := floorPage(off)
	end := max(ceilPage(off+int64(max(n, 1))), start+ceilPage(r.window))
	r.next, r.lastEnd = end, off+int64(n)
	return Extent{Off: start, Len: end - start}
}

// Window is the current window in bytes (0 before the first miss).
func (r *Readahead) Window() int64 { return r.window }

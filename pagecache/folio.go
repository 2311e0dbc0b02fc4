package pagecache

import (
	"sync"
	"sync/atomic"
)

// Folio state bits (folio.state).
const (
	stateUptodate  uint32 = 1 << iota // the bytes are valid file content
	stateDirty                        // newer than the device
	stateWriteback                    // a Writeback view of the bytes is outstanding
	stateIndexed                      // in the index (else detached or free)
	stateDetached                     // replaced by a copy while under writeback; freed by EndWriteback
)

// Reclaim queues a folio can be on (folio.queue).
const (
	queueNone uint8 = iota
	queueSmall
	queueMain
)

// folio is the descriptor of one cached power-of-two range. Descriptors live in a
// pre-allocated slice (Pool.folios) and are reused; they are addressed by index.
//
// Lock order: Pool.memMu, then contentMu, then shard.mu, then Cache.dirtyMu.
type folio struct {
	contentMu sync.RWMutex // guards the bytes of the folio's memory

	state atomic.Uint32 // state bits; changed under shard.mu (uptodate also under contentMu)
	pins  atomic.Int32  // users copying bytes or holding a reservation; taken under shard.mu
	freq  atomic.Int32  // S3-FIFO access count, 0..3
	gen   atomic.Uint64 // changes on every modification; unique across the cache

	// Guarded by shard.mu while indexed, by Pool.memMu while detached; set under both.
	off     int64  // file offset, a multiple of the size
	page    int32  // first arena page
	order   uint8  // size is PageSize << order
	writers int32  // reservations that will copy into the folio
	wbToken uint64 // identifies the outstanding Writeback

	// Guarded by Pool.memMu.
	owner      *Cache // the cache whose file the folio caches; nil while free
	queue      uint8
	prev, next int32
	created    bool // inserted by a reservation not yet committed (see Reservation.Release)
}

func (f *folio) size() int64 { return PageSize << f.order }
func (f *folio) end() int64  { return f.off + f.size() }
func (f *folio) has(bits uint32) bool {
	return f.state.Load()&bits == bits
}

// touch records an access for reclaim.
func (f *folio) touch() {
	if v := f.freq.Load(); v < 3 {
		f.freq.CompareAndSwap(v, v+1)
	}
}

// FolioRef is a snapshot of one folio's identity and state.
type FolioRef struct {
	Off       int64  // file offset of the folio
	Size      int    // power of two, PageSize..MaxFolioSize
	Gen       uint64 // generation at the time of the snapshot
	Uptodate  bool
	Dirty     bool
	Writeback bool
}

func (f *folio) ref() FolioRef {
	s := f.state.Load()
	return FolioRef{
		Off:       f.off,
		Size:      int(f.size()),
		Gen:       f.gen.Load(),
		Uptodate:  s&stateUptodate != 0,
		Dirty:     s&stateDirty != 0,
		Writeback: s&stateWriteback != 0,
	}
}

// Extent is a byte range of the file.
type Extent struct {
	Off int64
	Len int64
}

// End is the offset just past the extent.
func (e Extent) End() int64 { return e.Off + e.Len }

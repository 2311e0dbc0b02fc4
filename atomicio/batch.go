package atomicio

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/pagecache"
)

// Batch is a set of writes and size changes that land together: after any
// crash either all of a committed batch is on stable storage or none of
// it, in COW mode. It is what a transaction that changes several pages
// (and appends, or truncates, the file) needs, and what SQLite's
// SQLITE_IOCAP_BATCH_ATOMIC asks of a file system.
//
//	b := f.NewBatch()
//	b.WriteAt(header, 0)
//	b.WriteAt(page, 7*pageSize)
//	b.Truncate(8 * pageSize)
//	err := b.Commit() // or b.Discard()
//
// The operations apply in the order given, as on the file: a later write
// wins where it overlaps an earlier one, a Truncate drops what earlier
// writes put past it. Nothing reaches the File until Commit: reads see none
// of the batch before Commit and all of it once Commit has returned (a
// read that runs during Commit may see part of it). The batch keeps a copy
// of the data given to WriteAt.
//
// Commit puts the batch in the cache; like any write it is durable once a
// later Sync returns (or at Commit with Options.WriteThrough). Batches and
// untorn writes that overlap behave as if applied in commit order. In COW
// mode the next writeback commits the batch, with everything dirty that
// overlaps it, as one container transaction with the size it leaves; a
// write that overlaps a batch not yet written back first writes it back.
//
// Limits: in COW mode a batch of at most MaxBatch bytes of pages (half
// the cache: 26 MiB of the default 64 MiB CacheSize) goes through the
// cache as above. A larger one, up to 1 GiB (writeback.MaxThroughBatch;
// ErrTooLarge beyond), is written through at Commit: everything dirty is
// written back and flushed first, then the batch goes to the container
// as one transaction (the parts of pages it does not cover read from the
// device), durable with the next Sync like any write; it is staged in
// memory whole while Commit runs. In native mode RWF_ATOMIC writes one
// naturally aligned power-of-two unit untorn, so a batch must fit one such
// unit of at most the device's largest untorn write (2 MiB on XFS;
// ErrTooLarge beyond) and cannot change the size with its writes
// (ErrNotSupported).
//
// A Batch is not safe for concurrent use; the File it belongs to is.
type Batch struct {
	f     *File
	ops   []batchOp
	bytes int64
	done  bool
}

// batchOp is one WriteAt (data != nil) or Truncate (size).
type batchOp struct {
	off  int64
	data []byte
	size int64
}

// NewBatch returns an empty batch of f.
func (f *File) NewBatch() *Batch { return &Batch{f: f} }

// MaxBatch returns the most bytes of pages a batch may hold and still go
// through the cache (see Batch: in COW mode a larger one is written
// through at Commit, in native mode it is refused).
func (f *File) MaxBatch() int64 {
	if f.mode == ModeNative {
		return f.eng.MaxUnit()
	}
	return f.eng.MaxCachedBatch()
}

// WriteAt adds a write of p at off (a copy of p) to the batch: all of p,
// or nothing and an error (a negative offset, a batch already committed or
// discarded). It implements io.WriterAt.
func (b *Batch) WriteAt(p []byte, off int64) (int, error) {
	if err := b.usable(); err != nil {
		return 0, err
	}
	if off < 0 || int64(len(p)) > b.f.maxSize || off > b.f.maxSize-int64(len(p)) {
		return 0, fmt.Errorf("%w: batch write [%d, +%d) outside [0, %d)", ErrOutOfRange, off, len(p), b.f.maxSize)
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.ops = append(b.ops, batchOp{off: off, data: slices.Clone(p)})
	b.bytes += int64(len(p))
	return len(p), nil
}

// Truncate adds a size change to the batch (see File.Truncate).
func (b *Batch) Truncate(size int64) error {
	if err := b.usable(); err != nil {
		return err
	}
	if size < 0 || size > b.f.maxSize {
		return fmt.Errorf("%w: size %d outside [0, %d]", ErrOutOfRange, size, b.f.maxSize)
	}
	b.ops = append(b.ops, batchOp{size: size})
	return nil
}

// Len returns the bytes the batch's writes hold.
func (b *Batch) Len() int64 { return b.bytes }

// Discard drops the batch without applying any of it.
func (b *Batch) Discard() {
	b.done, b.ops, b.bytes = true, nil, 0
}

func (b *Batch) usable() error {
	if b.done {
		return fmt.Errorf("%w: the batch was committed or discarded", ErrInvalid)
	}
	return nil
}

// Commit applies the batch to the File: all of it, or nothing and an
// error (ErrTooLarge, ErrOutOfRange, ErrNotSupported, ErrNoMemory,
// ErrClosed). The batch cannot be used afterwards, whatever the result.
func (b *Batch) Commit() error {
	if err := b.usable(); err != nil {
		return err
	}
	b.done = true
	f := b.f
	f.closeMu.RLock()
	defer f.closeMu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	truncates := slices.ContainsFunc(b.ops, func(o batchOp) bool { return o.data == nil })
	// A batch that may not fit the cache is written through (the engine
	// decides), excluding readers and writers like a cut: the bound counts
	// every partial page.
	mayBeLarge := f.mode == ModeCOW && b.bytes+2*pagecache.PageSize*int64(len(b.ops)) > f.MaxBatch()
	if truncates || mayBeLarge {
		f.sizeMu.Lock()
		defer f.sizeMu.Unlock()
	} else {
		f.sizeMu.RLock()
		defer f.sizeMu.RUnlock()
	}
	old := f.eng.Size()
	pieces, cut, size := b.plan(old)
	if n := len(pieces); n > 0 && pieces[n-1].Off+int64(len(pieces[n-1].Data)) > f.maxSize || size > f.maxSize {
		return fmt.Errorf("%w: the batch reaches past the largest size %d", ErrOutOfRange, f.maxSize)
	}
	if f.mode == ModeNative {
		if err := f.commitNative(pieces, cut, size, old); err != nil {
			return err
		}
	} else {
		w := f.waits.Get().(*writeWait)
		err := f.eng.Commit(w, pieces, cut, size)
		w.reset()
		f.waits.Put(w)
		if err != nil {
			return wrapWriteErr(err)
		}
	}
	if f.opts.WriteThrough {
		if err := f.eng.Sync(); err != nil {
			return fmt.Errorf("atomicio: write-through sync: %w", err)
		}
	}
	return nil
}

// commitNative applies a batch in native mode: size changes first (a
// native file is resized at once; refused with other writes in the same
// batch, which could not land with them), then the writes as one unit.
// REQUIRES: sizeMu held (exclusively when the batch truncates).
func (f *File) commitNative(pieces []blockdev.Piece, cut, size, old int64) error {
	if size < 0 { // no Truncate: the writes' end decides
		size = old
		if n := len(pieces); n > 0 {
			size = max(old, pieces[n-1].Off+int64(len(pieces[n-1].Data)))
		}
	}
	switch {
	case size != old && len(pieces) > 0:
		return fmt.Errorf("%w: native mode: a batch that writes cannot also change the size", ErrNotSupported)
	case size != old:
		return f.resizeNativeLocked(old, size)
	}
	w := f.waits.Get().(*writeWait)
	err := f.eng.Commit(w, pieces, -1, size)
	w.reset()
	f.waits.Put(w)
	if err != nil {
		return wrapWriteErr(err)
	}
	return nil
}

// plan turns the batch's operations, applied in order to a file of size
// old, into what the engine commits: disjoint pieces in ascending order,
// the lowest size a Truncate cut the file to (-1: none) and the size the
// batch leaves (-1 when it has no Truncate: its writes only grow the file
// to cover them, as plain writes do). A cut inside a page adds zeros from the cut to the page's end
// (under later writes), so that the bytes past the size read as zeros if
// the file grows again.
func (b *Batch) plan(old int64) ([]blockdev.Piece, int64, int64) {
	var pieces []blockdev.Piece // disjoint, ascending
	cut, size := int64(-1), old
	for _, o := range b.ops {
		if o.data == nil {
			if o.size < size {
				pieces = clipPieces(pieces, o.size, -1)
				if cut < 0 || o.size < cut {
					cut = o.size
				}
			}
			size = o.size
			continue
		}
		end := o.off + int64(len(o.data))
		pieces = clipPieces(pieces, o.off, end)
		i, _ := slices.BinarySearchFunc(pieces, o.off, func(p blockdev.Piece, off int64) int { return cmp.Compare(p.Off, off) })
		pieces = slices.Insert(pieces, i, blockdev.Piece{Off: o.off, Data: o.data})
		size = max(size, end)
	}
	if cut >= 0 && cut%pagecache.PageSize != 0 {
		zeros := blockdev.Piece{Off: cut, Data: make([]byte, ceilTo(cut, pagecache.PageSize)-cut)}
		for _, gap := range gaps(pieces, zeros.Off, zeros.Off+int64(len(zeros.Data))) {
			i, _ := slices.BinarySearchFunc(pieces, gap[0], func(p blockdev.Piece, off int64) int { return cmp.Compare(p.Off, off) })
			pieces = slices.Insert(pieces, i, blockdev.Piece{Off: gap[0], Data: zeros.Data[:gap[1]-gap[0]]})
		}
	}
	if !slices.ContainsFunc(b.ops, func(o batchOp) bool { return o.data == nil }) {
		size = -1
	}
	return pieces, cut, size
}

// clipPieces removes [lo, hi) from pieces (hi < 0: everything from lo on),
// splitting a piece that straddles it.
func clipPieces(pieces []blockdev.Piece, lo, hi int64) []blockdev.Piece {
	var out []blockdev.Piece
	for _, p := range pieces {
		pend := p.Off + int64(len(p.Data))
		if pend <= lo || (hi >= 0 && p.Off >= hi) {
			out = append(out, p)
			continue
		}
		if p.Off < lo {
			out = append(out, blockdev.Piece{Off: p.Off, Data: p.Data[:lo-p.Off]})
		}
		if hi >= 0 && pend > hi {
			out = append(out, blockdev.Piece{Off: hi, Data: p.Data[hi-p.Off:]})
		}
	}
	return out
}

// gaps returns the parts of [lo, hi) no piece covers.
func gaps(pieces []blockdev.Piece, lo, hi int64) [][2]int64 {
	var out [][2]int64
	pos := lo
	for _, p := range pieces {
		pend := p.Off + int64(len(p.Data))
		if pend <= pos || p.Off >= hi {
			continue
		}
		if p.Off > pos {
			out = append(out, [2]int64{pos, p.Off})
		}
		pos = max(pos, pend)
	}
	if pos < hi {
		out = append(out, [2]int64{pos, hi})
	}
	return out
}

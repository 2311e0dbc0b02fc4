package cow

import (
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// run is data for consecutive logical blocks: len(data) is a multiple of
// the block size.
type run struct {
	lblock int64
	data   []byte
}

// placed is an extent as written: its data lies at physical block phys on,
// with a checksum per block.
type placed struct {
	ext  logrec.Extent
	phys int64
	sums []uint32
}

// appendPlaced appends the extents of a record whose data starts at
// physical block phys, in order, with their blocks' sums, to dst.
func appendPlaced(dst []placed, exts []logrec.Extent, phys int64, sums []uint32) []placed {
	for _, e := range exts {
		n := int64(e.Count)
		dst = append(dst, placed{ext: e, phys: phys, sums: sums[:n]})
		phys, sums = phys+n, sums[n:]
	}
	return dst
}

// WriteAt writes p at off. Every write is committed as one unit (so a plain
// write never tears either); Atomic writes must obey blockdev.CheckAtomic
// with the device's Limits. Plain writes longer than MaxBatch are split
// into several commits. With FUA the write is durable on return.
func (d *Device) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	op := "write"
	if flags&blockdev.Atomic != 0 {
		op = "atomic write"
	}
	if err := blockdev.CheckIO(d.limits, d.Size(), p, off, flags); err != nil {
		return 0, &blockdev.OpError{Op: op, Off: off, Len: len(p), Err: err}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writableLocked(op, off, len(p)); err != nil {
		return 0, err
	}
	bs := d.g.bs
	for done := int64(0); done < int64(len(p)); {
		n := min(int64(len(p))-done, d.g.maxBatch)
		runs := []run{{lblock: (off + done) / bs, data: p[done : done+n]}}
		size := max(d.size, off+done+n)
		if err := d.commitLocked(runs, n/bs, d.size, size, flags&blockdev.FUA != 0); err != nil {
			return int(done), &blockdev.OpError{Op: op, Off: off, Len: len(p), Err: err}
		}
		done += n
	}
	if err := d.finishLocked(flags); err != nil {
		return len(p), &blockdev.OpError{Op: op, Off: off, Len: len(p), Err: err}
	}
	return len(p), nil
}

// CommitBatch writes every piece and commits them as one unit: after a
// crash all of them or none are on the device. See blockdev.BatchDevice.
// The file size grows to the end of the furthest piece.
func (d *Device) CommitBatch(pieces []blockdev.Piece, flags blockdev.Flags) error {
	return d.commitSized(pieces, -1, -1, flags)
}

// CommitSized is CommitBatch with a change of the file size in the same
// transaction: the file is first cut to cut bytes (every logical block
// from ceil(cut/BlockSize) on is unmapped and reads as zeros; the bytes of
// the block holding cut beyond it are left as they are, for the caller to
// clear), then the pieces are written, then the file size becomes size.
// After a crash either all of it happened or none. cut = FileSize() cuts
// nothing. Pieces must lie below size rounded up to a block, size and cut
// at most Size(); otherwise nothing is written (ErrOutOfRange). A
// transaction with no pieces changes the size only. It takes more than
// MaxBatch bytes when the free segments allow it (MaxBatch is what the
// layout guarantees room for), else fails with ErrNoSpace.
func (d *Device) CommitSized(pieces []blockdev.Piece, cut, size int64, flags blockdev.Flags) error {
	if cut < 0 || size < 0 || cut > d.Size() || size > d.Size() {
		return &blockdev.OpError{Op: "commit batch", Off: -1,
			Err: fmt.Errorf("%w: cut %d and size %d on a device of %d bytes", blockdev.ErrOutOfRange, cut, size, d.Size())}
	}
	return d.commitSized(pieces, cut, size, flags)
}

// commitSized commits pieces with cut and size (-1: no cut, the size grows
// to cover the pieces).
func (d *Device) commitSized(pieces []blockdev.Piece, cut, size int64, flags blockdev.Flags) error {
	limit := d.g.maxBatch
	if cut >= 0 {
		limit = d.Size()
	}
	runs, blocks, err := d.checkBatch(pieces, limit)
	if err != nil {
		return &blockdev.OpError{Op: "commit batch", Off: -1, Err: err}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writableLocked("commit batch", -1, 0); err != nil {
		return err
	}
	var end int64 // of the last piece (runs are sorted)
	if n := len(runs); n > 0 {
		end = runs[n-1].lblock*d.g.bs + int64(len(runs[n-1].data))
	}
	if cut < 0 {
		cut, size = d.size, max(d.size, end)
	} else if end > ceilDiv(size, d.g.bs)*d.g.bs {
		return &blockdev.OpError{Op: "commit batch", Off: end,
			Err: fmt.Errorf("%w: a piece ends past the new file size %d", blockdev.ErrOutOfRange, size)}
	}
	if blocks > 0 || cut != d.size || size != d.size {
		if err := d.commitLocked(runs, blocks, cut, size, flags&blockdev.FUA != 0); err != nil {
			off := int64(-1)
			if len(runs) > 0 {
				off = runs[0].lblock * d.g.bs
			}
			return &blockdev.OpError{Op: "commit batch", Off: off, Len: int(blocks * d.g.bs), Err: err}
		}
	}
	if err := d.finishLocked(flags); err != nil {
		return &blockdev.OpError{Op: "commit batch", Off: -1, Err: err}
	}
	return nil
}

// checkBatch validates pieces (at most limit bytes in all) and returns them
// as runs sorted by logical block, with their total length in blocks.
func (d *Device) checkBatch(pieces []blockdev.Piece, limit int64) ([]run, int64, error) {
	sorted, total, err := blockdev.CheckPieces(d.limits, d.Size(), pieces, limit)
	if err != nil {
		return nil, 0, err
	}
	runs := make([]run, len(sorted))
	for i, pc := range sorted {
		runs[i] = run{lblock: pc.Off / d.g.bs, data: pc.Data}
	}
	return runs, total / d.g.bs, nil
}

// finishLocked ends a write: a flush for FUA, else a checkpoint if due.
// REQUIRES: mu held.
func (d *Device) finishLocked(flags blockdev.Flags) error {
	if flags&blockdev.FUA != 0 {
		start := time.Now()
		err := d.flushLocked()
		d.timeLocked(&d.stats.FlushTime, start)
		if err != nil {
			return err
		}
	}
	return d.maybeCheckpointLocked()
}

// commitLocked makes room, then writes runs (sorted, disjoint, blocks in
// total) as one transaction; with fua it may make it durable by itself
// (see writeTxnLocked).
// REQUIRES: mu held.
func (d *Device) commitLocked(runs []run, blocks, cut, size int64, fua bool) error {
	if err := d.ensureSpaceLocked(blocks); err != nil {
		return err
	}
	d.stats.UserBlocks += blocks
	defer d.timeLocked(&d.stats.CommitTime, time.Now())
	return d.writeTxnLocked(runs, 0, cut, size, fua)
}

// segmentsFor is how many free segments a transaction of n data blocks
// may take when the head segment has headRoom blocks left: its data, its
// headers (one block per record plus 8 bytes per data block in the worst
// case), up to two blocks skipped at each segment end, and the segment the
// last record names as the next one's place.
func (g geometry) segmentsFor(n, headRoom int64) int64 {
	need := n + ceilDiv(n*(logrec.ExtentLen+logrec.BlockSumLen), g.bs) - max(headRoom-3, 0)
	return ceilDiv(max(need, 0), g.segBlocks-3) + 1
}

// writeTxnLocked writes runs as a transaction of one or more records at
// the log head, then applies it to the map: the file cut to cut bytes, the
// runs, the file size set to size (a transaction of no runs is one record
// that changes the size only). Each record is one inner write
// of its header blocks followed by its data; a transaction that does not
// fit in the head segment continues in records in further segments, each
// but the last marked recMore. The header carries a checksum per data
// block: computed from the data for callers' writes, carried over from
// the map for the cleaner's and defragmentation's moves (flag recClean),
// so that a block damaged on the device stays detectable wherever it is
// moved. The caller has made sure enough free segments exist. With fua, a
// transaction that is one record while everything before it is durable
// goes out as one FUA write: durable without a flush.
// REQUIRES: mu held.
func (d *Device) writeTxnLocked(runs []run, flags uint16, cut, size int64, fua bool) error {
	// A growth of the file (see growHeadLocked) leaves it dirty: the FUA
	// fast path is not taken then (the size is made durable by a flush,
	// not left to the FUA write).
	if err := d.growHeadLocked(); err != nil {
		return err
	}
	fua = fua && !d.dirty
	moved := flags&logrec.FlagClean != 0
	g := d.g
	bs := g.bs
	var done []placed
	ri, roff := 0, int64(0) // next run and block offset in it
	pos, seq := d.head, d.nextSeq
	for first := true; first || ri < len(runs); first = false {
		// pos is the head: over a file that grows with the container, its
		// segment must exist before the record goes there (a transaction
		// may continue into a segment further out).
		if err := d.growHeadLocked(); err != nil {
			return err
		}
		var exts []logrec.Extent
		var srcs [][]byte
		var data int64
		exts, srcs, data, ri, roff = fillRecord(runs, ri, roff, g.segEnd(pos)-pos, bs)
		h := logrec.HeaderBlocksFor(len(exts), data, bs)
		end := pos + h + data
		next := end
		if g.segEnd(pos)-end < 2 {
			s, ok := d.nextFreeLocked()
			if !ok {
				err := fmt.Errorf("%w: log ran out of segments", ErrNoSpace)
				if len(done) > 0 { // an unfinished transaction is on disk
					return d.failLocked(err)
				}
				return err
			}
			if err := d.fillLocked(s); err != nil {
				return err
			}
			next = g.segStart(s) // taken once written
		}
		// The data goes out from where it lies when the inner device takes
		// a vectored write and every piece is aligned for it; else it is
		// copied behind the header in the stage buffer.
		vectored := d.vec != nil && allAligned(srcs, d.limits.MemAlign)
		var buf []byte // the header, followed by the data when copied
		if vectored {
			buf = d.headerBufferLocked(h * bs)
		} else {
			buf = d.bufferLocked(&d.stage, (h+data)*bs)
			o := h * bs
			for _, src := range srcs {
				o += int64(copy(buf[o:], src))
			}
		}
		// A caller's data: each block's sum, and the record's data checksum
		// folded from them. Moved data: the sums the map holds (they say
		// what the data was when written), and the checksum of the data as
		// read, so that a moved damaged block leaves an intact record.
		sums := make([]uint32, 0, data)
		var dataCRC uint32
		if moved {
			for _, e := range exts {
				sums = append(sums, d.sums[e.LBlock:e.LBlock+e.Count]...)
			}
			for _, src := range srcs {
				dataCRC = logrec.CRCUpdate(dataCRC, src)
			}
		} else {
			for _, src := range srcs {
				for b := int64(0); b < int64(len(src)); b += bs {
					sums = append(sums, logrec.CRC(src[b:b+bs]))
				}
			}
			dataCRC = d.folder.Fold(sums)
		}
		rec := logrec.Header{Flags: flags, HdrBlocks: h, Seq: seq, Epoch: d.sb.epoch, DevID: d.sb.devID,
			Next: next, DataBlocks: data, DataCRC: dataCRC, DurableSeq: d.durableSeq,
			Cut: cut, Size: size, Extents: exts, Sums: sums}
		if ri < len(runs) {
			rec.Flags |= logrec.FlagMore
		}
		rec.Encode(buf[:h*bs])
		wflags := blockdev.Flags(0)
		if fua && ri == len(runs) && len(done) == 0 {
			wflags = blockdev.FUA
		}
		var err error
		if vectored {
			d.iov = append(append(d.iov[:0], buf), srcs...)
			err = d.innerWritevLocked(d.iov, pos, wflags)
			clear(d.iov) // keep no reference to the caller's data
		} else {
			err = d.innerWriteLocked(buf, pos, wflags)
		}
		if err != nil {
			return err
		}
		if wflags&blockdev.FUA != 0 {
			d.durableSeq = seq + 1 // everything before was durable already
		}
		done = appendPlaced(done, exts, pos+h, sums)
		d.stats.Records++
		d.stats.HeaderBlocks += h
		d.logLen += end - pos
		if g.segOf(next) != g.segOf(pos) {
			d.logLen += g.segEnd(pos) - end
			d.segs[g.segOf(pos)].state = segUsed
			d.takeFreeLocked()
		}
		pos, seq = next, seq+1
		d.head, d.nextSeq = pos, seq
	}
	d.stats.Commits++
	d.applyTxnLocked(cut, size, done)
	return nil
}

// applyTxnLocked applies a committed transaction to the map: the cut, the
// extents, the size.
// REQUIRES: mu held.
func (d *Device) applyTxnLocked(cut, size int64, done []placed) {
	d.resizeLocked(cut)
	d.resizeLocked(max(cut, size))
	for _, pl := range done {
		d.applyLocked(pl)
	}
	d.resizeLocked(size)
}

// resizeLocked sets the file size: blocks from ceil(size/bs) on are
// unmapped and released; new blocks read as zeros.
// REQUIRES: mu held.
func (d *Device) resizeLocked(size int64) {
	g := d.g
	n := ceilDiv(size, g.bs)
	ds := g.dataStart()
	for l := n; l < int64(len(d.m)); l++ {
		if old := int64(d.m[l]); old != 0 {
			d.rev[old-ds] = 0
			d.segs[g.segOf(old)].live--
			d.liveBlocks--
		}
	}
	if n <= int64(len(d.m)) {
		clear(d.m[n:])
		clear(d.sums[n:])
		d.m, d.sums = d.m[:n], d.sums[:n]
	} else {
		d.m = append(d.m, make([]uint32, n-int64(len(d.m)))...)
		d.sums = append(d.sums, make([]uint32, n-int64(len(d.sums)))...)
	}
	d.size = size
}

// mapAt returns the place of logical block l (0: unmapped).
// REQUIRES: mu held (shared is enough).
func (d *Device) mapAt(l int64) uint32 {
	if l < int64(len(d.m)) {
		return d.m[l]
	}
	return 0
}

// fillRecord chooses the extents of one record of at most room blocks
// (header included), taking runs from runs[ri] at block offset roff on and
// merging logically adjacent ones. It returns the extents, their data, the
// data blocks and where the next record continues.
func fillRecord(runs []run, ri int, roff, room, bs int64) ([]logrec.Extent, [][]byte, int64, int, int64) {
	var exts []logrec.Extent
	var srcs [][]byte
	var data int64
	for ri < len(runs) {
		r := runs[ri]
		left := int64(len(r.data))/bs - roff
		lb := r.lblock + roff
		merge := len(exts) > 0 && int64(exts[len(exts)-1].LBlock)+int64(exts[len(exts)-1].Count) == lb
		n := len(exts) + 1
		if merge {
			n = len(exts)
		}
		// The header grows with the blocks taken: take what fits with it.
		take := min(left, room-data-logrec.HeaderBlocksFor(n, data+1, bs))
		for take > 0 {
			over := logrec.HeaderBlocksFor(n, data+take, bs) + data + take - room
			if over <= 0 {
				break
			}
			take -= over
		}
		if take <= 0 {
			break
		}
		if merge {
			exts[len(exts)-1].Count += uint32(take)
		} else {
			exts = append(exts, logrec.Extent{LBlock: uint32(lb), Count: uint32(take)})
		}
		srcs = append(srcs, r.data[roff*bs:(roff+take)*bs])
		data += take
		if roff += take; roff == int64(len(r.data))/bs {
			ri, roff = ri+1, 0
		}
	}
	return exts, srcs, data, ri, roff
}

// applyLocked points the extent's logical blocks at their new places and
// releases the old ones.
// REQUIRES: mu held.
func (d *Device) applyLocked(pl placed) {
	g := d.g
	ds := g.dataStart()
	for i := int64(0); i < int64(pl.ext.Count); i++ {
		l := int64(pl.ext.LBlock) + i
		p := pl.phys + i
		if old := int64(d.m[l]); old != 0 {
			d.rev[old-ds] = 0
			d.segs[g.segOf(old)].live--
			d.liveBlocks--
		}
		d.m[l] = uint32(p)
		d.sums[l] = pl.sums[i]
		d.rev[p-ds] = uint32(l + 1)
		d.segs[g.segOf(p)].live++
		d.liveBlocks++
	}
}

package cow

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"math/bits"
	"slices"

	"github.com/untorn/untorn/blockdev"
)

// logReader reads the log segment by segment: one inner read from a
// record to the end of its segment serves every record after it there.
type logReader struct {
	d     *Device
	seg   *[]byte // a segment buffer from the shared pool; the caller puts it back (close)
	buf   []byte
	start int64 // physical block of buf[0]
	n     int64 // blocks in buf
}

// close gives the segment buffer back.
func (lr *logReader) close() {
	putSegBuffer(lr.seg)
	lr.seg, lr.buf = nil, nil
}

// at returns the bytes from block pos to the end of its segment.
func (lr *logReader) at(pos int64) ([]byte, error) {
	g := lr.d.g
	if pos < lr.start || pos >= lr.start+lr.n {
		lr.start, lr.n = pos, g.segEnd(pos)-pos
		if lr.seg == nil {
			lr.seg = lr.d.getSegBuffer(g.segBlocks * g.bs)
		}
		lr.buf = (*lr.seg)[:lr.n*g.bs]
		if err := lr.d.innerRead(lr.buf, pos); err != nil {
			return nil, err
		}
	}
	return lr.buf[(pos-lr.start)*g.bs : lr.n*g.bs], nil
}

// replayLocked applies the valid records from pos on, starting with sequence
// number seq, and sets the log head after the last complete transaction.
// It stops at the first record that is missing, torn, stale (other device,
// epoch or sequence number) or whose data does not match its checksum.
// That is the end of the log, unless a later record of this epoch says
// the damaged one had been flushed: then it is corruption (ErrCorrupt,
// unless Options.Salvage). A record that is intact and current but names
// impossible places is corruption too.
// REQUIRES: mu held.
func (d *Device) replayLocked(pos int64, seq uint64) error {
	g := d.g
	bs := g.bs
	lr := logReader{d: d}
	defer lr.close()
	d.head, d.nextSeq = pos, seq
	var pending []placed // records of an unfinished transaction
	var pendingSegs []int64
	current := func(r *logrec.Header) bool {
		return r.DevID == d.sb.devID && r.Epoch == d.sb.epoch && r.Seq == seq
	}
	for {
		b, err := lr.at(pos)
		if err != nil {
			return err
		}
		d.growSegsLocked(g.segOf(pos))
		r, err := logrec.DecodeHeader(b, bs)
		intact := err == nil && current(&r)
		if intact {
			if err := d.checkRecordLocked(&r, pos, pos+r.HdrBlocks+r.DataBlocks); err != nil {
				return err
			}
			intact = logrec.CRC(b[r.HdrBlocks*bs:(r.HdrBlocks+r.DataBlocks)*bs]) == r.DataCRC
		}
		if !intact {
			// The end of the log, unless a later record proves this one
			// was durable (corruption), or it has one flipped bit.
			if !d.salvage {
				if err := d.checkLogEndLocked(&lr, pos, seq); err != nil {
					return err
				}
			}
			if err == nil && !current(&r) {
				break // an intact record of another time: nothing to repair
			}
			var ok bool
			if r, ok = d.repairRecordLocked(b, pos, current); !ok {
				break
			}
		}
		pending = appendPlaced(pending, r.Extents, pos+r.HdrBlocks, r.Sums)
		pendingSegs = append(pendingSegs, g.segOf(pos))
		pos, seq = r.Next, seq+1
		if r.Flags&logrec.FlagMore != 0 {
			continue
		}
		d.applyTxnLocked(r.Cut, r.Size, pending)
		for _, s := range pendingSegs {
			d.segs[s].state = segUsed
		}
		pending, pendingSegs = pending[:0], pendingSegs[:0]
		d.head, d.nextSeq = pos, seq
	}
	d.durableSeq = d.nextSeq
	return d.placeHeadLocked()
}

// logEndScanSegments is how many segments beyond those in use
// checkLogEndLocked reads the start of.
const logEndScanSegments = 64

// checkLogEndLocked looks for a record of this epoch after the end of the
// log (replay stopped at block pos, expecting record seq) that says record
// seq had been flushed before it was written. Such a record means the log
// was damaged after it was durable, not torn by a crash. A record after
// seq lies in the rest of pos's segment or starts a segment, or follows
// one that does: it reads those places and walks the log from every
// current record it finds there.
// REQUIRES: mu held.
func (d *Device) checkLogEndLocked(lr *logReader, pos int64, seq uint64) error {
	g := d.g
	bs := g.bs
	var hbuf []byte
	seen := map[int64]bool{}
	// claims reads the chain of current records from block at on and
	// reports one that proves record seq was durable.
	claims := func(at int64) (int64, bool, error) {
		for g.isData(at) && !seen[at] {
			seen[at] = true
			b, err := d.readHeader(&hbuf, at)
			if err != nil {
				return 0, false, err
			}
			r, err := logrec.DecodeHeader(b, bs)
			if err != nil || r.DevID != d.sb.devID || r.Epoch != d.sb.epoch || r.Seq <= seq {
				return 0, false, nil
			}
			if r.DurableSeq > seq {
				return at, true, nil
			}
			at = r.Next
		}
		return 0, false, nil
	}
	var starts []int64
	b, err := lr.at(pos)
	if err != nil {
		return err
	}
	for i := int64(1); i < int64(len(b))/bs; i++ {
		if logrec.HeaderBlocks(b[i*bs:]) > 0 {
			starts = append(starts, pos+i)
		}
	}
	// A later record lies in a segment in use or in one of the next few
	// the log could have taken since.
	for s := range min(g.nSegs, int64(len(d.segs))+logEndScanSegments) {
		if s != g.segOf(pos) {
			starts = append(starts, g.segStart(s))
		}
	}
	for _, at := range starts {
		by, found, err := claims(at)
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("%w: log record %d at inner block %d (byte %d) is damaged, but record at inner block %d shows it had been flushed",
				ErrCorrupt, seq, pos, pos*bs, by)
		}
	}
	return nil
}

// repairRecordLocked tries to read the record at block pos, whose bytes
// to the end of its segment are b, as a current record with one flipped
// bit (see repair.go). A corrected data block is kept in d.repairs, to be
// written again once replay is done. It does not change b.
// REQUIRES: mu held.
func (d *Device) repairRecordLocked(b []byte, pos int64, current func(*logrec.Header) bool) (logrec.Header, bool) {
	g := d.g
	bs := g.bs
	if len(b) < logrec.HeaderLen || bits.OnesCount32(binary.LittleEndian.Uint32(b)^logrec.Magic) > 1 {
		return logrec.Header{}, false // not a record (zeros, old data): a torn or missing one
	}
	fixed := append([]byte(nil), b...)
	r, ok := logrec.RepairHeader(fixed, bs, current)
	if !ok {
		return logrec.Header{}, false
	}
	end := pos + r.HdrBlocks + r.DataBlocks
	if end > g.segEnd(pos) || d.checkRecordLocked(&r, pos, end) != nil {
		return logrec.Header{}, false
	}
	data := fixed[r.HdrBlocks*bs : (r.HdrBlocks+r.DataBlocks)*bs]
	if logrec.CRC(data) != r.DataCRC {
		i, ok := logrec.RepairData(&r, data, bs)
		if !ok {
			return logrec.Header{}, false
		}
		d.repairs = append(d.repairs, repairedBlock{lblock: r.LogicalBlock(i), phys: pos + r.HdrBlocks + i,
			data: data[i*bs : (i+1)*bs]})
	}
	d.stats.RepairedRecords++
	return r, true
}

// readHeader reads what may be a record header at block pos: one block,
// or as many as a header there says it has (within its segment), into
// *buf.
func (d *Device) readHeader(buf *[]byte, pos int64) ([]byte, error) {
	g := d.g
	sized := func(n int64) []byte {
		if int64(cap(*buf)) < n {
			*buf = blockdev.AlignedBuffer(int(n), d.limits.MemAlign)
		}
		return (*buf)[:n]
	}
	b := sized(g.bs)
	if err := d.innerRead(b, pos); err != nil {
		return nil, err
	}
	h := logrec.HeaderBlocks(b)
	if h <= 1 || h > g.segEnd(pos)-pos {
		return b, nil
	}
	b = sized(h * g.bs)
	if err := d.innerRead(b, pos); err != nil {
		return nil, err
	}
	return b, nil
}

// checkRecordLocked checks that an intact, current record at [pos, end)
// lies within one segment, maps blocks that exist, places its data on
// blocks without live data and points to a valid next record position.
// REQUIRES: mu held.
func (d *Device) checkRecordLocked(r *logrec.Header, pos, end int64) error {
	g := d.g
	segEnd := g.segEnd(pos)
	mapEnd := int64(0)
	if n := len(r.Extents); n > 0 {
		mapEnd = int64(r.Extents[n-1].LBlock) + int64(r.Extents[n-1].Count)
	}
	nextOK := (r.Next == end && segEnd-end >= 2) ||
		(g.isData(r.Next) && (r.Next-g.dataStart())%g.segBlocks == 0 && g.segOf(r.Next) != g.segOf(pos) && segEnd-end < 2)
	switch {
	case end > segEnd:
		return fmt.Errorf("%w: record %d at %d runs past its segment", ErrCorrupt, r.Seq, pos)
	case r.Size > g.nLogical*g.bs || r.Cut > g.nLogical*g.bs || mapEnd > ceilDiv(r.Size, g.bs):
		return fmt.Errorf("%w: record %d maps past its file size %d or the capacity", ErrCorrupt, r.Seq, r.Size)
	case !nextOK:
		return fmt.Errorf("%w: record %d at %d names next record at %d", ErrCorrupt, r.Seq, pos, r.Next)
	}
	for p := pos; p < end; p++ {
		if d.rev[p-g.dataStart()] != 0 {
			return fmt.Errorf("%w: record %d at %d overwrites live data at %d", ErrCorrupt, r.Seq, pos, p)
		}
	}
	return nil
}

// placeHeadLocked marks the head segment after replay and checks that the
// log head does not lie over live data, which only a damaged device shows.
// REQUIRES: mu held.
func (d *Device) placeHeadLocked() error {
	g := d.g
	s := g.segOf(d.head)
	d.growSegsLocked(s)
	for p := d.head; p < g.segEnd(d.head); p++ {
		if d.rev[p-g.dataStart()] != 0 {
			return fmt.Errorf("%w: log head %d lies over live data at %d", ErrCorrupt, d.head, p)
		}
	}
	for i := len(d.segs) - 1; i >= 0; i-- { // d.free in descending order
		switch {
		case int64(i) == s:
			d.segs[i].state = segHead
		case d.segs[i].live > 0 || d.segs[i].state == segUsed:
			d.segs[i].state = segUsed
		default:
			d.segs[i].state = segFree
			d.free = append(d.free, int64(i))
		}
	}
	return nil
}

// repairedBlock is a data block whose flipped bit replay corrected: the
// device still holds the damaged copy at phys until it is written again.
type repairedBlock struct {
	lblock, phys int64
	data         []byte
}

// rewriteRepairsLocked writes the blocks replay corrected again, as a
// relocation, where the map still holds their damaged copies: at the
// place replay found them, or wherever the cleaner moved them since (the
// room this makes may be cleaned first, and a moved block keeps the
// checksum of its data as written, which the corrected block has; a block
// a later record rewrote has another). When there is no room it leaves
// them (a read of one then fails with ErrCorrupt).
// REQUIRES: mu held.
func (d *Device) rewriteRepairsLocked() error {
	reps := d.repairs
	d.repairs = nil
	if len(reps) == 0 || d.ensureSpaceLocked(int64(len(reps))) != nil {
		return nil
	}
	var runs []run
	for _, rp := range reps {
		at := int64(d.mapAt(rp.lblock))
		if at == rp.phys || at != 0 && d.sums[rp.lblock] == logrec.CRC(rp.data) {
			runs = append(runs, run{lblock: rp.lblock, data: rp.data})
		}
	}
	if len(runs) == 0 {
		return nil
	}
	// In log order the blocks need not be ascending; the map holds one
	// place per block, so each appears once.
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.lblock, b.lblock) })
	return d.writeTxnLocked(runs, logrec.FlagClean, d.size, d.size, false)
}

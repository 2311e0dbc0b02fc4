package journal

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/internal/logrec"
)

// Recovery reads the log from the header's start: record after record,
// each of which must be intact (header and data checksums) and current
// (this journal's id and generation, the next sequence number, Prev the
// header checksum of the record before it, in its place). The first that
// is not ends the log:
//
//   - one flipped bit in it (which a torn write never produces) is
//     located by its checksums, corrected and replayed;
//   - otherwise it is the torn tail of a crash, unless a later record of
//     the generation, written after it had been flushed (a durable
//     watermark above its sequence number), is intact somewhere in the
//     area: then it was durable and is damaged, and Open fails with
//     ErrCorrupt naming it (Options.Salvage drops it and all after it).

// scan returns the log's valid records and the corrected blocks of those
// it repaired (by log position).
func (d *Device) scan() ([]record, map[int64][]byte, error) {
	h := d.hdr
	pos, seq, prev, size := h.start, h.startSeq, h.startPrev, h.baseSize
	var recs []record
	repaired := map[int64][]byte{}
	for pos-h.start < d.area {
		r, ok, err := d.readRecord(pos, seq, prev, nil)
		if err == nil && !ok {
			r, ok, err = d.readRecord(pos, seq, prev, repaired)
		}
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			if err := d.checkTail(pos, seq); err != nil && !d.opts.Salvage {
				return nil, nil, err
			}
			break
		}
		if r.cut < size {
			r.cutBlock = ceilDiv(r.cut, d.bs)
		}
		recs = append(recs, r)
		pos, seq, prev, size = r.end, r.seq+1, r.crc, r.size
	}
	return recs, repaired, nil
}

// readRecord reads and checks the record expected at log position pos. It
// reports false for a record that is missing, torn or not current, and an
// error for a read that failed or a record that is intact but impossible.
// With repaired non-nil it also tries to correct one flipped bit, adding
// the corrected data block (if any) to repaired.
func (d *Device) readRecord(pos int64, seq uint64, prev uint32, repaired map[int64][]byte) (record, bool, error) {
	bs := d.bs
	room := d.area - (pos - d.hdr.start) // blocks the record may take
	first := blockdev.AlignedBuffer(int(bs), d.limits.MemAlign)
	if err := d.readLog(first, pos); err != nil {
		return record{}, false, err
	}
	hb := logrec.HeaderBlocks(first)
	if hb < 1 || hb > room {
		hb = 1 // a damaged length: only a one-block header can be repaired
	}
	hbuf := first
	if hb > 1 {
		hbuf = blockdev.AlignedBuffer(int(hb*bs), d.limits.MemAlign)
		if err := d.readLog(hbuf, pos); err != nil {
			return record{}, false, err
		}
	}
	current := func(r *logrec.Header) bool {
		return r.DevID == d.id && r.Epoch == d.gen && r.Seq == seq && r.Prev == prev &&
			r.Next == pos+r.HdrBlocks+r.DataBlocks && r.HdrBlocks+r.DataBlocks <= room
	}
	hdr, err := logrec.DecodeHeader(hbuf, bs)
	if err != nil || !current(&hdr) {
		if repaired == nil {
			return record{}, false, nil
		}
		var ok bool
		if hdr, ok = logrec.RepairHeader(hbuf, bs, current); !ok {
			return record{}, false, nil
		}
	}
	if err := d.checkPlace(&hdr, pos); err != nil {
		return record{}, false, err
	}
	data := blockdev.AlignedBuffer(int(hdr.DataBlocks*bs), d.limits.MemAlign)
	if err := d.readLog(data, pos+hdr.HdrBlocks); err != nil {
		return record{}, false, err
	}
	if !intact(&hdr, data, bs, d.folder) {
		if repaired == nil {
			return record{}, false, nil
		}
		i, ok := logrec.RepairData(&hdr, data, bs)
		if !ok {
			return record{}, false, nil
		}
		repaired[pos+hdr.HdrBlocks+i] = data[i*bs : (i+1)*bs]
	}
	r := record{lsn: pos, end: hdr.Next, hdrBlocks: hdr.HdrBlocks, seq: hdr.Seq, crc: logrec.HeaderCRC(hbuf),
		cut: hdr.Cut, size: hdr.Size, cutBlock: noCut, extents: hdr.Extents}
	return r, true, nil
}

// intact reports whether data matches the record's block sums and data
// checksum.
func intact(h *logrec.Header, data []byte, bs int64, f *logrec.Folder) bool {
	for i := range h.DataBlocks {
		if logrec.CRC(data[i*bs:(i+1)*bs]) != h.Sums[i] {
			return false
		}
	}
	return f.Fold(h.Sums) == h.DataCRC
}

// checkPlace fails with ErrCorrupt on a current record that names blocks
// or sizes past the capacity: its checksums hold, so it is not torn.
func (d *Device) checkPlace(h *logrec.Header, pos int64) error {
	limit := d.logical / d.bs
	for _, e := range h.Extents {
		if int64(e.LBlock)+int64(e.Count) > limit {
			return fmt.Errorf("%w: journal record %d at log position %d maps blocks [%d, +%d) past the capacity (%d blocks)",
				ErrCorrupt, h.Seq, pos, e.LBlock, e.Count, limit)
		}
	}
	if h.Cut > d.logical || h.Size > d.logical {
		return fmt.Errorf("%w: journal record %d at log position %d sets size %d (cut %d) past the capacity %d",
			ErrCorrupt, h.Seq, pos, h.Size, h.Cut, d.logical)
	}
	return nil
}

// checkTail decides whether the invalid record expected at pos (sequence
// number seq) is the torn tail of a crash (nil) or damage (ErrCorrupt):
// it reads the whole area for a record of this generation placed after
// pos whose durable watermark says seq had been flushed when it was
// written.
func (d *Device) checkTail(pos int64, seq uint64) error {
	bs, area := d.bs, d.area
	const chunk = 1 << 20
	buf := blockdev.AlignedBuffer(int(min(area*bs, chunk)), d.limits.MemAlign)
	per := int64(len(buf)) / bs
	for q := int64(0); q < area; q += per {
		n := min(per, area-q)
		if _, err := d.jdev.ReadAt(buf[:n*bs], (hdrCopies+q)*bs); err != nil {
			return fmt.Errorf("journal: read the log area: %w", err)
		}
		for k := range n {
			blk := buf[k*bs : (k+1)*bs]
			hb := logrec.HeaderBlocks(blk)
			if hb < 1 || hb > area {
				continue
			}
			hbuf := blk
			if hb > 1 || k+hb > n {
				hbuf = blockdev.AlignedBuffer(int(hb*bs), d.limits.MemAlign)
				if err := d.readLog(hbuf, q+k); err != nil {
					return err
				}
			}
			h, err := logrec.DecodeHeader(hbuf, bs)
			if err != nil || h.DevID != d.id || h.Epoch != d.gen || h.Seq <= seq || h.DurableSeq <= seq {
				continue
			}
			at := h.Next - h.HdrBlocks - h.DataBlocks // the log position it claims
			if at <= pos || at%area != q+k {
				continue
			}
			return fmt.Errorf("%w: journal record %d at log position %d fails its checksum, but record %d at %d, written after it was flushed, is intact",
				ErrCorrupt, seq, pos, h.Seq, at)
		}
	}
	return nil
}

package journal

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// The record area is a ring: log position lsn lies at block lsn%area of
// it, so a record that reaches the end of the area goes on at its start.
// These helpers split an access there.

// writeLog writes bufs (whole blocks in all, each aligned for the journal
// device when d.jvec takes them as they are) at log position lsn.
// REQUIRES: commitMu held (or the device not yet shared).
func (d *Device) writeLog(bufs [][]byte, lsn int64) error {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	room := (d.area - lsn%d.area) * d.bs // bytes to the end of the area
	if total <= room {
		return d.writeVec(bufs, d.phys(lsn))
	}
	first, rest := splitBufs(bufs, room)
	if err := d.writeVec(first, d.phys(lsn)); err != nil {
		return err
	}
	return d.writeVec(rest, hdrCopies*d.bs)
}

// writeVec writes bufs at byte offset off of the journal device in one
// operation: vectored when the device takes it and every buffer is
// aligned, else staged in one aligned buffer.
func (d *Device) writeVec(bufs [][]byte, off int64) error {
	if len(bufs) == 1 && blockdev.IsAligned(bufs[0], d.limits.MemAlign) {
		_, err := d.jdev.WriteAt(bufs[0], off, 0)
		return err
	}
	if d.jvec != nil && allAligned(bufs, d.limits.MemAlign) {
		_, err := d.jvec.WritevAt(bufs, off, 0)
		return err
	}
	var n int
	for _, b := range bufs {
		n += len(b)
	}
	stage := blockdev.AlignedBuffer(n, d.limits.MemAlign)
	o := 0
	for _, b := range bufs {
		o += copy(stage[o:], b)
	}
	_, err := d.jdev.WriteAt(stage, off, 0)
	return err
}

// splitBufs splits bufs at byte n.
func splitBufs(bufs [][]byte, n int64) (first, rest [][]byte) {
	for i, b := range bufs {
		if n >= int64(len(b)) {
			first = append(first, b)
			n -= int64(len(b))
			continue
		}
		if n > 0 {
			first = append(first, b[:n])
			rest = append(rest, b[n:])
		} else {
			rest = append(rest, b)
		}
		rest = append(rest, bufs[i+1:]...)
		return first, rest
	}
	return first, rest
}

func allAligned(bufs [][]byte, align int) bool {
	for _, b := range bufs {
		if !blockdev.IsAligned(b, align) {
			return false
		}
	}
	return true
}

// readLog reads len(p) bytes (whole blocks; p aligned) from log position
// lsn, taking blocks Open repaired from memory.
func (d *Device) readLog(p []byte, lsn int64) error {
	room := (d.area - lsn%d.area) * d.bs
	n := min(int64(len(p)), room)
	if _, err := d.jdev.ReadAt(p[:n], d.phys(lsn)); err != nil {
		return fmt.Errorf("journal: read the log at %d: %w", lsn, err)
	}
	if n < int64(len(p)) {
		if _, err := d.jdev.ReadAt(p[n:], hdrCopies*d.bs); err != nil {
			return fmt.Errorf("journal: read the log at %d: %w", lsn+n/d.bs, err)
		}
	}
	for pos, blk := range d.repaired { // only during Open
		if i := pos - lsn; i >= 0 && i*d.bs < int64(len(p)) {
			copy(p[i*d.bs:(i+1)*d.bs], blk)
		}
	}
	return nil
}

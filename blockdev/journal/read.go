package journal

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// ReadAt reads len(p) bytes at off: the latest committed data. A block a
// record in the journal holds is read from the journal (its newest
// image), a block a cut unmapped since the start reads as zeros, any
// other from the data device (zeros past its end).
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	if err := blockdev.CheckIO(d.limits, d.Size(), p, off, 0); err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	// mu stays held shared for the whole read: the journal space it reads
	// cannot be freed (a checkpoint's start moves under mu held
	// exclusively) and so cannot be reused under it.
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: blockdev.ErrClosed}
	}
	bs := d.bs
	first, n := off/bs, int64(len(p))/bs
	var js []loc
	d.index.AscendRange(loc{block: first}, loc{block: first + n}, func(l loc) bool {
		js = append(js, l)
		return true
	})
	homeEnd := min(d.zeroFrom, d.data.Size()/bs) // blocks from it on read as zeros unless journaled
	for i, ji := int64(0), 0; i < n; {
		if ji < len(js) && js[ji].block == first+i {
			j := i + 1
			for k := ji + 1; k < len(js) && js[k].block == first+j && js[k].lsn == js[ji].lsn+(j-i); k++ {
				j++
			}
			if err := d.readLog(p[i*bs:j*bs], js[ji].lsn); err != nil {
				return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
			}
			ji += int(j - i)
			i = j
			continue
		}
		next := n
		if ji < len(js) {
			next = js[ji].block - first
		}
		if lim := homeEnd - first; i < lim {
			h := min(next, lim)
			if _, err := d.data.ReadAt(p[i*bs:h*bs], (first+i)*bs); err != nil {
				return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: fmt.Errorf("journal: read the data device: %w", err)}
			}
			i = h
			continue
		}
		clear(p[i*bs : next*bs])
		i = next
	}
	return len(p), nil
}

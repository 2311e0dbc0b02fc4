package cow

import (
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"sync"

	"github.com/untorn/untorn/blockdev"
)

// Reads split into physically contiguous runs; when there are many, up to
// readParallelism of them are read at once, so a logically sequential read
// of data scattered by random overwrites still keeps the inner device busy.
const (
	readParallelism = 8
	maxReadRun      = 1 << 20 // bytes per inner read
)

// physRun is a run of blocks of a read that lie consecutively on the inner
// device: buffer blocks [i, j) come from physical block phys on.
type physRun struct {
	i, j int64
	phys int64
}

// ReadAt reads len(p) bytes at off: the latest committed data, zeros where
// nothing was ever written. Every block read is checked against the
// checksum its record gave it: a block damaged on the inner device fails
// the read with ErrCorrupt naming it, rather than returning wrong data. A
// large read of badly fragmented data also rewrites it contiguously (see
// defragRead), unless Options.NoReadDefrag.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	if err := blockdev.CheckIO(d.limits, d.Size(), p, off, 0); err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: blockdev.ErrClosed}
	}
	bs := d.g.bs
	first, n := off/bs, int64(len(p))/bs
	maxRun := max(maxReadRun/bs, 1)
	var runs []physRun
	for i := int64(0); i < n; {
		ph := int64(d.mapAt(first + i))
		if ph == 0 {
			clear(p[i*bs : (i+1)*bs])
			i++
			continue
		}
		j := i + 1
		for j < n && j-i < maxRun && int64(d.mapAt(first+j)) == ph+(j-i) {
			j++
		}
		runs = append(runs, physRun{i: i, j: j, phys: ph})
		i = j
	}
	err := d.readRunsLocked(p, runs)
	if err == nil {
		err = d.verifyLocked(p, first, runs)
	}
	takes := d.takes
	d.mu.RUnlock()
	if err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	if d.defrag && fragmented(n, len(runs)) {
		d.defragRead(p, first, n, runs, takes)
	}
	return len(p), nil
}

// verifyLocked checks every block read into p (logical blocks from first
// on, read by runs) against its checksum.
// REQUIRES: mu held (shared is enough).
func (d *Device) verifyLocked(p []byte, first int64, runs []physRun) error {
	bs := d.g.bs
	for _, r := range runs {
		for i := r.i; i < r.j; i++ {
			if got, want := logrec.CRC(p[i*bs:(i+1)*bs]), d.sums[first+i]; got != want {
				return fmt.Errorf("%w: data block at byte %d (inner block %d) has checksum %#x, its record says %#x",
					ErrCorrupt, (first+i)*bs, r.phys+i-r.i, got, want)
			}
		}
	}
	return nil
}

// readRunsLocked reads every run into p, in parallel when there are
// several.
// REQUIRES: mu held (shared is enough).
func (d *Device) readRunsLocked(p []byte, runs []physRun) error {
	bs := d.g.bs
	read := func(r physRun) error { return d.innerRead(p[r.i*bs:r.j*bs], r.phys) }
	if len(runs) <= 2 {
		for _, r := range runs {
			if err := read(r); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex // guards firstErr
		firstEr error
	)
	next := make(chan physRun)
	for range min(readParallelism, len(runs)) {
		wg.Go(func() {
			for r := range next {
				if err := read(r); err != nil {
					errMu.Lock()
					if firstEr == nil {
						firstEr = err
					}
					errMu.Unlock()
				}
			}
		})
	}
	for _, r := range runs {
		next <- r
	}
	close(next)
	wg.Wait()
	return firstEr
}

package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/untorn/untorn/blockdev"
)

const (
	// appendSize is the bound's write size.
	appendSize = 1 << 20
	// maxLogSize caps the bound's (preallocated, reused) log file.
	maxLogSize = 64 << 20
)

// seqAppend is the bound: the workload's written bytes appended
// sequentially in 1 MiB O_DIRECT writes to a preallocated log that wraps
// around, with an fdatasync at every Sync. A page rewritten while its
// earlier version still waits in the buffer replaces it there, as a write
// cache does (only the last version before a Sync must be made durable):
// under skewed workloads (zipf-16k) the torn-safe contenders merge such
// rewrites, and a bound that did not would not bound them. It keeps no
// index, so it cannot read: it is writeOnly, and in a workload with reads
// the runner counts them as free, which keeps its time per page op a
// lower bound.
type seqAppend struct {
	dev     *blockdev.File
	buf     []byte
	fill    int              // bytes pending in buf
	pending map[int64]extent // where in buf the page written at each offset waits
	pos     int64            // where the next append goes
	size    int64            // log size
	written int64
	// fresh: the first-pass bound, seq-append-new. Each run appends to a
	// new sparse file of -size bytes (removed at Close), never wrapping:
	// every write goes to blocks the file system has not allocated yet,
	// as the first pass of a log through a new file does. The time over
	// seq-append's in the same run is what the file system charges for
	// allocating (on ext4 and XFS, a metadata commit in each flush).
	fresh bool
	path  string // the fresh file
	label string // the name when not one of the two above (journal-bound's log)
}

// extent is a range of seqAppend's buffer.
type extent struct{ at, n int }

var (
	_ contender = (*seqAppend)(nil)
	_ writeOnly = (*seqAppend)(nil)
)

func (s *seqAppend) Name() string {
	if s.label != "" {
		return s.label
	}
	if s.fresh {
		return "seq-append-new"
	}
	return "seq-append"
}

// writeOnly is true: the runner must not read from an append log.
func (s *seqAppend) writeOnly() bool { return true }

func (s *seqAppend) Open(cfg fileConfig) error {
	path := cfg.path(s.Name(), ".log")
	logSize := min(cfg.Size, maxLogSize) // wraps around
	if s.fresh {
		logSize = cfg.Size // never wraps: every append into new blocks
	}
	s.size = max(logSize/appendSize*appendSize, appendSize)
	opts := blockdev.FileOptions{}
	if s.fresh {
		opts = blockdev.FileOptions{Size: s.size, Create: true}
		_ = os.Remove(path) // a file left by an interrupted run
		s.path = path
	} else if err := prefillFile(path, s.size); err != nil {
		return err
	}
	dev, err := blockdev.OpenFile(path, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	s.dev, s.fill, s.pos, s.written = dev, 0, 0, 0
	s.pending = map[int64]extent{}
	s.buf = blockdev.AlignedBuffer(appendSize, max(dev.Limits().MemAlign, 4096))
	return nil
}

func (s *seqAppend) Write(p []byte, off int64) error {
	if len(p)%4096 != 0 || len(p) > appendSize {
		return fmt.Errorf("%w: %s appends multiples of 4 KiB up to 1 MiB, got %d bytes", errBadFlag, s.Name(), len(p))
	}
	if e, ok := s.pending[off]; ok && e.n == len(p) {
		copy(s.buf[e.at:e.at+e.n], p)
		return nil
	}
	if s.fill+len(p) > appendSize {
		if err := s.appendPending(); err != nil {
			return err
		}
	}
	s.pending[off] = extent{at: s.fill, n: len(p)}
	s.fill += copy(s.buf[s.fill:], p)
	return nil
}

// appendPending writes the buffered bytes at the log head.
func (s *seqAppend) appendPending() error {
	if s.fill == 0 {
		return nil
	}
	if s.pos+int64(s.fill) > s.size {
		s.pos = 0
	}
	n, err := s.dev.WriteAt(s.buf[:s.fill], s.pos, 0)
	s.written += int64(n)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	s.pos += int64(s.fill)
	s.fill = 0
	clear(s.pending)
	return nil
}

// Read fails: an append log without an index cannot serve page reads (the
// runner does not call it, see writeOnly).
func (s *seqAppend) Read([]byte, int64) error {
	return notApplicable("%s cannot read (write-only bound)", s.Name())
}

func (s *seqAppend) Sync() error {
	if err := s.appendPending(); err != nil {
		return err
	}
	return s.dev.Flush()
}

func (s *seqAppend) Close() error {
	err := s.Sync()
	err = errors.Join(err, s.dev.Close())
	s.dev = nil
	if s.fresh {
		err = errors.Join(err, os.Remove(s.path))
	}
	return err
}

func (s *seqAppend) BytesWritten() int64 { return s.written }

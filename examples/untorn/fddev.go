package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/untorn/untorn/blockdev"
)

// fdDevice is a read-only blockdev.Device over an open descriptor that
// the caller owns (and has locked): convert reads the container through
// it, so that the file it reads is provably the file it locked and
// fstat'ed (blockdev.File does not lend its descriptor). Reads go through
// the page cache (pread); writes and flushes fail; Close does nothing.
type fdDevice struct {
	f      *os.File
	size   int64
	limits blockdev.Limits
}

var _ blockdev.Device = (*fdDevice)(nil)

// newFDDevice describes the regular file open as fd, of length bytes, at
// path: its block size is the one blockdev.OpenFile would report (the
// direct I/O offset alignment, at least 512; 4096 when statx does not
// say), so that a container reads with the block size it was made with.
func newFDDevice(f *os.File, path string, length int64) *fdDevice {
	bs := 4096
	if info, err := blockdev.Stat(path); err == nil && info.DIOReported && info.DIOOffsetAlign > 0 {
		bs = max(int(info.DIOOffsetAlign), 512)
	}
	return &fdDevice{f: f, size: length - length%int64(bs), limits: blockdev.Limits{BlockSize: bs, MemAlign: 1}}
}

func (d *fdDevice) Size() int64             { return d.size }
func (d *fdDevice) Limits() blockdev.Limits { return d.limits }
func (d *fdDevice) Close() error            { return nil }

func (d *fdDevice) ReadAt(p []byte, off int64) (int, error) {
	if err := blockdev.CheckIO(d.limits, d.size, p, off, 0); err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	if err := preadFull(d.f, p, off); err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	return len(p), nil
}

// preadFull reads len(p) bytes at off of f; reading past the end is EIO.
func preadFull(f *os.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n < len(p) && (err == nil || errors.Is(err, io.EOF)) {
		return syscall.EIO
	}
	return err
}

func (d *fdDevice) WriteAt(p []byte, off int64, _ blockdev.Flags) (int, error) {
	return 0, &blockdev.OpError{Op: "write", Off: off, Len: len(p), Err: fmt.Errorf("read-only: %w", blockdev.ErrNotSupported)}
}

func (d *fdDevice) Flush() error {
	return &blockdev.OpError{Op: "flush", Off: -1, Err: fmt.Errorf("read-only: %w", blockdev.ErrNotSupported)}
}

package benchstat

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// The device's own cost of one durable commit, measured in the same run as
// what it bounds: one O_DIRECT write of a commit's bytes into blocks
// already written (no allocation, so the flush carries no file-system
// metadata) and one fdatasync, sequentially through a file, as a log
// writes. Nothing commits n bytes durably with less.
const (
	// BoundWrites is how many write+fdatasync pairs a bound is the median of.
	BoundWrites = 400
	BoundBlock  = 4096 // the unit the commit's bytes are rounded up to
)

// DeviceBound returns the median time of writing n bytes (rounded up to
// whole blocks) with O_DIRECT into written blocks and fdatasync, writes
// times (BoundWrites normally), in a temporary file in dir.
func DeviceBound(dir string, n, writes int) (time.Duration, error) {
	boundWrites := max(writes, 1)
	size := (max(n, 1) + BoundBlock - 1) / BoundBlock * BoundBlock
	path := filepath.Join(dir, fmt.Sprintf("device-bound-%d", os.Getpid()))
	defer os.Remove(path)
	// Write the file whole first, buffered, and sync it: every block is
	// allocated and written before the measured writes.
	if err := os.WriteFile(path, make([]byte, size*boundWrites), 0o600); err != nil {
		return 0, fmt.Errorf("device bound: %w", err)
	}
	// blockdev's File: O_DIRECT and fdatasync on Linux, the portable File
	// (and its flush: F_FULLFSYNC, FlushFileBuffers) elsewhere.
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	if err != nil {
		return 0, fmt.Errorf("device bound: %w", err)
	}
	defer f.Close()
	if err := f.Flush(); err != nil {
		return 0, fmt.Errorf("device bound: %w", err)
	}
	buf := blockdev.AlignedBuffer(size, max(BoundBlock, f.Limits().MemAlign))
	lat := make([]time.Duration, 0, boundWrites)
	for i := range boundWrites {
		buf[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i*size), 0); err != nil {
			return 0, fmt.Errorf("device bound: %w", err)
		}
		if err := f.Flush(); err != nil {
			return 0, fmt.Errorf("device bound: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	return Percentile(lat, 0.5), nil
}

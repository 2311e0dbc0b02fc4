package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"

	"github.com/untorn/untorn/internal/benchstat"
)

// The device's own bound for one durable commit, measured in the same run:
// one O_DIRECT write of a commit's bytes into blocks already written (no
// allocation, so the flush carries no file-system metadata) and one
// fdatasync, sequentially through a file, as untorn's log writes. No VFS
// can commit a transaction durably with less (WAL does the same: one write
// and one fdatasync), so this plus SQLite's own time per transaction is the
// ceiling of any contender at synchronous=FULL.
const (
	boundWrites = 400 // measured write+fdatasync pairs
	boundBlock  = 4096
)

// measureDeviceBound returns the median time of writing n bytes (rounded
// up to whole blocks) with O_DIRECT into written blocks and fdatasync, in
// a temporary file in dir.
func measureDeviceBound(dir string, n int) (time.Duration, error) {
	size := (max(n, 1) + boundBlock - 1) / boundBlock * boundBlock
	path := filepath.Join(dir, fmt.Sprintf("device-bound-%d", os.Getpid()))
	defer os.Remove(path)
	// Write the file whole first, buffered, and sync it: every block is
	// allocated and written before the measured writes.
	if err := os.WriteFile(path, make([]byte, size*boundWrites), 0o600); err != nil {
		return 0, fmt.Errorf("device bound: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("device bound: open %s with O_DIRECT: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return 0, fmt.Errorf("device bound: fsync: %w", err)
	}
	buf := blockdev.AlignedBuffer(size, boundBlock)
	lat := make([]time.Duration, 0, boundWrites)
	for i := range boundWrites {
		buf[0] = byte(i)
		start := time.Now()
		if _, err := unix.Pwrite(fd, buf, int64(i*size)); err != nil {
			return 0, fmt.Errorf("device bound: pwrite: %w", err)
		}
		if err := unix.Fdatasync(fd); err != nil {
			return 0, fmt.Errorf("device bound: fdatasync: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	return benchstat.Percentile(lat, 0.5), nil
}

// ceiling is the best a durable contender could do on a workload here.
type ceiling struct {
	Bytes  int           // untorn's bytes written per transaction (the commit's size)
	Bound  time.Duration // the device bound for that many bytes (p50)
	SQLite time.Duration // SQLite's own time per transaction: wal-normal's p50, which syncs nothing
}

// rate is the transactions per second at the ceiling.
func (c ceiling) rate() float64 { return 1 / (c.Bound + c.SQLite).Seconds() }

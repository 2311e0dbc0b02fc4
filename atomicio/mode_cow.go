package atomicio

import (
	"fmt"
	"math/bits"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/pagecache"
)

// errNotFormatted: dev holds no COW container.
var errNotFormatted = cow.ErrNotFormatted

// cowOptions sizes a new container: the defaults (untorn writes and
// batches of 8 MiB, less on small devices) unless MaxAtomic needs more: a
// write of MaxAtomic bytes at any offset spans MaxAtomic plus a page.
func cowOptions(opts Options, logical int64) cow.Options {
	o := cow.Options{LogicalSize: logical, SparePercent: opts.COWSparePercent, Salvage: opts.Salvage}
	if need := int64(opts.MaxAtomic) + 2*pagecache.PageSize; need > 8<<20 {
		o.AtomicMax = 1 << bits.Len64(uint64(need-1))
		o.MaxBatch = int64(o.AtomicMax)
	}
	return o
}

func openCOW(dev blockdev.Device, opts Options) (*cow.Device, error) {
	return cow.Open(dev, cowOptions(opts, 0)) // an error wraps errNotFormatted where there is no container
}

func formatCOW(dev blockdev.Device, opts Options, logical int64) (*cow.Device, error) {
	return cow.Format(dev, cowOptions(opts, logical))
}

// cowPhysicalSize is the size of the layout of a container of logical
// bytes: the most its file can grow to.
func cowPhysicalSize(blockSize int, opts Options, logical int64) (int64, error) {
	n, err := cow.RequiredSize(blockSize, cowOptions(opts, logical))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return n, nil
}

// initialSize gives a new container's file its initial size (Options.Size),
// durably.
func initialSize(c *cow.Device, size int64) error {
	if size == 0 {
		return nil
	}
	if size > c.Size() {
		return fmt.Errorf("%w: Options.Size %d is past the container's largest size %d", ErrOutOfRange, size, c.Size())
	}
	if err := c.CommitSized(nil, 0, size, blockdev.FUA); err != nil {
		return fmt.Errorf("atomicio: initial size: %w", err)
	}
	return nil
}

// preallocateCOW allocates (without writing) the container's first
// Options.Size bytes of segments, where the log will put the first data:
// past the end of the new file (fallocate KEEP_SIZE), which grows into
// them.
func preallocateCOW(dev *blockdev.File, blockSize int, opts Options, capacity int64) error {
	if opts.Size == 0 {
		return nil
	}
	off, err := cow.DataOffset(blockSize, cowOptions(opts, capacity))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	layout, err := cowPhysicalSize(blockSize, opts, capacity)
	if err != nil {
		return err
	}
	n := min(ceilTo(opts.Size, int64(blockSize)), layout-off)
	if err := dev.Allocate(off, n); err != nil {
		return fmt.Errorf("preallocate: %w", err)
	}
	return nil
}

package main

import (
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// directAtomic writes every page in place with O_DIRECT and RWF_ATOMIC
// from many writers at Sync, then fdatasync: untorn without any cache for
// writes or reads (reads go to the device unless the page is pending).
type directAtomic struct {
	dev     blockdev.Device
	batch   *pageBatch
	scratch []byte
	writers int
	written int64
}

var _ contender = (*directAtomic)(nil)

func (d *directAtomic) Name() string { return "dio-atomic" }

func (d *directAtomic) Open(cfg fileConfig) error {
	path := cfg.path(d.Name(), ".dat")
	if err := prefillFile(path, cfg.Size); err != nil {
		return err
	}
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	return d.attach(dev, cfg)
}

// attach takes dev (closing it if it cannot serve the workload's pages).
func (d *directAtomic) attach(dev blockdev.Device, cfg fileConfig) error {
	l := dev.Limits()
	if err := blockdev.CheckAtomic(l, 0, cfg.PageSize); err != nil {
		_ = dev.Close()
		offers := "none"
		if l.HasAtomic() {
			offers = formatSize(int64(l.AtomicMin)) + ".." + formatSize(int64(l.AtomicMax))
		}
		return notApplicable("no RWF_ATOMIC write of %s pages here (file system offers %s): %w",
			formatSize(int64(cfg.PageSize)), offers, err)
	}
	d.dev, d.writers, d.written = dev, cfg.Writers, 0
	d.batch = newPageBatch(cfg.PageSize, max(cfg.SyncEvery, 64), 0, l.MemAlign)
	d.scratch = blockdev.AlignedBuffer(cfg.PageSize, max(l.MemAlign, 4096))
	return nil
}

func (d *directAtomic) Write(p []byte, off int64) error { return d.batch.put(p, off, d.writeOut) }

// writeOut writes the pending pages untorn, in place, in parallel.
func (d *directAtomic) writeOut() error {
	n, err := d.batch.writeInPlace(d.dev, d.writers, blockdev.Atomic)
	d.written += n
	if err != nil {
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	d.batch.reset()
	return nil
}

func (d *directAtomic) Read(p []byte, off int64) error {
	return d.batch.readPage(d.dev, d.scratch, p, off)
}

func (d *directAtomic) Sync() error {
	if err := d.writeOut(); err != nil {
		return err
	}
	return d.dev.Flush()
}

func (d *directAtomic) Close() error {
	err := d.Sync()
	err = errors.Join(err, d.dev.Close())
	d.dev = nil
	return err
}

func (d *directAtomic) BytesWritten() int64 { return d.written }

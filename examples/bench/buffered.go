package main

import (
	"fmt"
	"os"

	"github.com/untorn/untorn/blockdev"
)

// bufferedFile is the kernel's page cache: pwrite, then fdatasync. It is
// NOT torn-safe (a crash can leave a page half old, half new); it is the
// speed reference.
type bufferedFile struct {
	f       *os.File
	written int64
}

var _ contender = (*bufferedFile)(nil)

func (b *bufferedFile) Name() string { return "buffered" }

func (b *bufferedFile) Open(cfg fileConfig) error {
	f, err := openPrefilled(cfg.path(b.Name(), ".dat"), cfg.Size)
	if err != nil {
		return fmt.Errorf("buffered: %w", err)
	}
	// Start cold, like untorn after its reopen: drop the file's clean
	// pages from the kernel page cache.
	if err := blockdev.DropCache(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("buffered: fadvise: %w", err)
	}
	b.f, b.written = f, 0
	return nil
}

func (b *bufferedFile) Write(p []byte, off int64) error {
	n, err := b.f.WriteAt(p, off)
	b.written += int64(n)
	return err
}

func (b *bufferedFile) Read(p []byte, off int64) error {
	_, err := b.f.ReadAt(p, off)
	return err
}

func (b *bufferedFile) Sync() error {
	if err := blockdev.SyncData(b.f); err != nil {
		return fmt.Errorf("buffered: fdatasync: %w", err)
	}
	return nil
}

func (b *bufferedFile) Close() error {
	err := b.Sync()
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	return err
}

func (b *bufferedFile) BytesWritten() int64 { return b.written }

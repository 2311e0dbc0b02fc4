package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// doublewriteArea is the size of the doublewrite area's page part, as in
// InnoDB (two 64-page blocks of 16 KiB).
const doublewriteArea = 2 << 20

// doublewrite is InnoDB's doublewrite buffer done well: at Sync the pages
// of the interval go in ONE sequential O_DIRECT write (a header with their
// offsets, then the pages) to a doublewrite file, fdatasync; then in place
// from many writers, fdatasync. A torn in-place page is repaired from the
// doublewrite copy at recovery (not implemented here: only the cost is).
type doublewrite struct {
	data, dw *blockdev.File
	batch    *pageBatch
	scratch  []byte
	writers  int
	written  int64
	inPlace  bool // in-place writes not yet made durable by a data fdatasync
}

var _ contender = (*doublewrite)(nil)

func (d *doublewrite) Name() string { return "doublewrite" }

// doublewriteLayout returns the pages the area holds and its header size
// for a page size.
func doublewriteLayout(pageSize int) (capPages, header int) {
	capPages = max(doublewriteArea/pageSize, 1)
	header = (16 + 8*capPages + 4095) / 4096 * 4096
	return capPages, header
}

func (d *doublewrite) Open(cfg fileConfig) error {
	capPages, header := doublewriteLayout(cfg.PageSize)
	dataPath := cfg.path(d.Name(), ".dat")
	dwPath := cfg.path(fmt.Sprintf("%s-%s", d.Name(), formatSize(int64(cfg.PageSize))), ".dblwr")
	if err := prefillFile(dataPath, cfg.Size); err != nil {
		return err
	}
	if err := prefillFile(dwPath, int64(header+capPages*cfg.PageSize)); err != nil {
		return err
	}
	data, err := blockdev.OpenFile(dataPath, blockdev.FileOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	dw, err := blockdev.OpenFile(dwPath, blockdev.FileOptions{})
	if err != nil {
		_ = data.Close()
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	align := max(data.Limits().MemAlign, dw.Limits().MemAlign)
	d.data, d.dw, d.writers, d.written, d.inPlace = data, dw, cfg.Writers, 0, false
	d.batch = newPageBatch(cfg.PageSize, capPages, header, align)
	d.scratch = blockdev.AlignedBuffer(cfg.PageSize, max(align, 4096))
	return nil
}

func (d *doublewrite) Write(p []byte, off int64) error { return d.batch.put(p, off, d.flushBatch) }

// flushBatch runs one doublewrite cycle over the pending pages.
func (d *doublewrite) flushBatch() error {
	n := d.batch.len()
	if n == 0 {
		return nil
	}
	hdr := d.batch.slab[:d.batch.lead]
	clear(hdr)
	copy(hdr, "UTDBLWR1")
	binary.LittleEndian.PutUint64(hdr[8:], uint64(n))
	for i, off := range d.batch.offs {
		binary.LittleEndian.PutUint64(hdr[16+8*i:], uint64(off))
	}
	k, err := d.dw.WriteAt(d.batch.slab[:d.batch.lead+n*d.batch.pageSize], 0, 0)
	d.written += int64(k)
	if err != nil {
		return fmt.Errorf("%s: doublewrite area: %w", d.Name(), err)
	}
	if err := d.dw.Flush(); err != nil {
		return fmt.Errorf("%s: doublewrite area: %w", d.Name(), err)
	}
	d.inPlace = true
	m, err := d.batch.writeInPlace(d.data, d.writers, 0)
	d.written += m
	if err != nil {
		return fmt.Errorf("%s: in place: %w", d.Name(), err)
	}
	d.batch.reset()
	return nil
}

func (d *doublewrite) Read(p []byte, off int64) error {
	return d.batch.readPage(d.data, d.scratch, p, off)
}

func (d *doublewrite) Sync() error {
	if err := d.flushBatch(); err != nil {
		return err
	}
	if !d.inPlace {
		return nil
	}
	if err := d.data.Flush(); err != nil {
		return fmt.Errorf("%s: %w", d.Name(), err)
	}
	d.inPlace = false
	return nil
}

func (d *doublewrite) Close() error {
	err := d.Sync()
	err = errors.Join(err, d.data.Close(), d.dw.Close())
	d.data, d.dw = nil, nil
	return err
}

func (d *doublewrite) BytesWritten() int64 { return d.written }

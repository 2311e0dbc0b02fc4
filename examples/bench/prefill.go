package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"

	"github.com/untorn/untorn/blockdev"
)

// patternBlock is the granularity of fillPattern's content.
const patternBlock = 4096

// fillPattern fills p, which lies at off in a file (off and len(p)
// multiples of 4 KiB), with the content a new data file has there:
// pseudo-random bytes that depend only on the offset, so tests can check
// pages nobody wrote.
func fillPattern(p []byte, off int64) {
	for i := 0; i+patternBlock <= len(p); i += patternBlock {
		blk := uint64(off+int64(i)) / patternBlock
		r := rand.NewPCG(blk, 0x756e746f726e) // "untorn"
		b := p[i : i+patternBlock]
		for j := 0; j < len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], r.Uint64())
		}
	}
}

// openPrefilled opens path for buffered reads and writes, creating it
// with prefillFile the first time.
func openPrefilled(path string, size int64) (*os.File, error) {
	if err := prefillFile(path, size); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// prefillFile creates path with size bytes of fillPattern content written
// sequentially with O_DIRECT and made durable, unless it exists already.
// Filling once means no measured run pays for block allocation or
// unwritten-extent conversion.
func prefillFile(path string, size int64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prefill %s: %w", path, err)
	}
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: size, Create: true})
	if err != nil {
		return fmt.Errorf("prefill %s: %w", path, err)
	}
	fail := func(err error) error {
		_ = dev.Close()
		_ = os.Remove(path)
		return fmt.Errorf("prefill %s: %w", path, err)
	}
	buf := blockdev.AlignedBuffer(fillChunk, max(dev.Limits().MemAlign, 4096))
	for off := int64(0); off < size; off += fillChunk {
		p := buf[:min(int64(fillChunk), size-off)]
		fillPattern(p, off)
		if _, err := dev.WriteAt(p, off, 0); err != nil {
			return fail(err)
		}
	}
	if err := dev.Flush(); err != nil {
		return fail(err)
	}
	if err := dev.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("prefill %s: %w", path, err)
	}
	return nil
}

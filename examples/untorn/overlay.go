package main

import (
	"sync"

	"github.com/untorn/untorn/blockdev"
)

// overlay is a blockdev.Device that reads through to inner and keeps
// every write in memory: reads see the writes (read-your-writes), inner
// never does, and Flush does nothing. cow.Open always writes (a new root
// in a new epoch, after replaying the log); over an overlay it recovers
// the container in memory only, so that info and check look at a
// container, and convert copies one, without changing a byte of it.
//
// Limits: the overlay holds what was written to it, block by block, in
// memory: for cow.Open a superblock, a checkpoint (8 bytes per 4 KiB of
// the file) and any record it repaired; with cow.Options.NoReadDefrag
// reads write nothing. It is no Discarder, Resizer or Lengther, so cow
// gives back no space and fills no segment through it. Close closes
// inner.
//
// A container's file may be shorter than its layout (it grows with its
// use, and what lies past its end reads as zeros): the overlay is as large
// as any layout (overlaySize), reading zeros past inner's end.
type overlay struct {
	inner blockdev.Device
	bs    int64

	mu     sync.RWMutex
	blocks map[int64][]byte // by block number: the newest write of each
}

var _ blockdev.Device = (*overlay)(nil)

// overlaySize is the overlay's capacity: past any container layout (a
// layout of the largest logical size cow allows is below it).
const overlaySize = 1 << 52

func newOverlay(inner blockdev.Device) *overlay {
	return &overlay{inner: inner, bs: int64(inner.Limits().BlockSize), blocks: map[int64][]byte{}}
}

func (o *overlay) Size() int64             { return max(o.inner.Size(), overlaySize) }
func (o *overlay) Limits() blockdev.Limits { return o.inner.Limits() }
func (o *overlay) Flush() error            { return nil }
func (o *overlay) Close() error            { return o.inner.Close() }

// Written returns how many bytes the overlay holds.
func (o *overlay) Written() int64 {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return int64(len(o.blocks)) * o.bs
}

// ReadAt reads inner, then lays the blocks written to the overlay over
// what it read.
func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	if err := blockdev.CheckIO(o.Limits(), o.Size(), p, off, 0); err != nil {
		return 0, &blockdev.OpError{Op: "read", Off: off, Len: len(p), Err: err}
	}
	in := max(min(int64(len(p)), o.inner.Size()-off), 0) // the part inner holds
	if in > 0 {
		if _, err := o.inner.ReadAt(p[:in], off); err != nil {
			return 0, err
		}
	}
	clear(p[in:])
	o.mu.RLock()
	defer o.mu.RUnlock()
	if len(o.blocks) == 0 {
		return len(p), nil
	}
	first := off / o.bs
	for i := range int64(len(p)) / o.bs {
		if b, ok := o.blocks[first+i]; ok {
			copy(p[i*o.bs:(i+1)*o.bs], b)
		}
	}
	return len(p), nil
}

// WriteAt keeps p in memory, under the device rules of inner's limits.
func (o *overlay) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	if err := blockdev.CheckIO(o.Limits(), o.Size(), p, off, flags); err != nil {
		return 0, &blockdev.OpError{Op: "write", Off: off, Len: len(p), Err: err}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	first := off / o.bs
	for i := range int64(len(p)) / o.bs {
		b, ok := o.blocks[first+i]
		if !ok {
			b = make([]byte, o.bs)
			o.blocks[first+i] = b
		}
		copy(b, p[i*o.bs:(i+1)*o.bs])
	}
	return len(p), nil
}

package atomicio

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// The crash oracle. Every byte a test writes encodes the id of the write
// and its offset (enc), so each byte found after a crash is attributed to
// the write that produced it. Ids are unique per history and below 255.

const maxWrites = 250 // ids 1..250 keep enc injective per offset

// enc is the byte write id puts at offset b: for a fixed b, distinct ids
// give distinct non-zero bytes.
func enc(id int, b int64) byte { return byte(1 + (int64(id-1)+b*37)%255) }

func fillWrite(p []byte, id int, off int64) {
	for i := range p {
		p[i] = enc(id, off+int64(i))
	}
}

// oracleWrite is one accepted write.
type oracleWrite struct {
	id       int
	off, end int64
	untorn   bool
}

// oracle is the model of one file's history since its last verified
// baseline (the content found at open).
type oracle struct {
	size     int64
	baseImg  []byte // content at the baseline
	baseID   []int  // per byte: the id of the write that left it there (0: never written)
	current  []byte // what reads must return
	writes   []oracleWrite
	synced   int // writes[:synced] returned before the last successful Sync began
	nextID   int // ids are never reused, across crashes too
	verified int // crash images verified
	// recoveryCrashes counts power cuts during the recovery of a crash image.
	recoveryCrashes int
}

func newOracle(size int64) *oracle {
	return &oracle{size: size, baseImg: make([]byte, size), baseID: make([]int, size), current: make([]byte, size), nextID: 1}
}

// newWrite returns the id and data of the next write of n bytes at off.
func (o *oracle) newWrite(off int64, n int) (int, []byte) {
	id := o.nextID
	o.nextID++
	p := make([]byte, n)
	fillWrite(p, id, off)
	return id, p
}

// full reports whether the random part of a history used its ids up: the
// last reservedIDs are left for the fixed steps that end every case (see
// oracleRun.epilogue).
func (o *oracle) full() bool { return o.nextID > maxWrites-reservedIDs }

const reservedIDs = 1

// applied records a write that WriteAt accepted.
func (o *oracle) applied(id int, p []byte, off int64, untorn bool) {
	o.writes = append(o.writes, oracleWrite{id: id, off: off, end: off + int64(len(p)), untorn: untorn})
	copy(o.current[off:], p)
}

// syncStarted returns the mark to pass to syncDone once Sync returned nil.
func (o *oracle) syncStarted() int  { return len(o.writes) }
func (o *oracle) syncDone(mark int) { o.synced = max(o.synced, mark) }

// attribute returns, per byte of img, the id of the write that left it
// there, or an error for data nobody wrote. Since enc is injective per
// offset, at most one write covering a byte matches its value.
//
// attribute, check and rebase are go:norace: they loop over every byte of
// the oracle's own model and of a crash image, which only the test's
// goroutine holds, and under the race detector those loops were most of
// the crash oracle's time (the engine under test stays instrumented).
//
//go:norace
func (o *oracle) attribute(img []byte) ([]int, error) {
	ids := make([]int, o.size)
	for i := range ids {
		ids[i] = -1
	}
	for i := len(o.writes) - 1; i >= 0; i-- {
		w := o.writes[i]
		for b := w.off; b < w.end; b++ {
			if ids[b] < 0 && enc(w.id, b) == img[b] {
				ids[b] = w.id
			}
		}
	}
	for b := range o.size {
		if ids[b] >= 0 {
			continue
		}
		if img[b] != o.baseImg[b] {
			return nil, fmt.Errorf("phantom byte %#x at %d: no write put it there", img[b], b)
		}
		ids[b] = o.baseID[b]
	}
	return ids, nil
}

// check verifies img, the whole content found after a crash: (3) no
// phantom data, (2) durable: every byte holds at least what the last
// successful Sync made durable, (1) untorn: no untorn write shows its (or
// later) data in one part of its range and older data in another.
//
//go:norace
func (o *oracle) check(img []byte) error {
	if int64(len(img)) != o.size {
		return fmt.Errorf("image of %d bytes, file of %d", len(img), o.size)
	}
	ids, err := o.attribute(img)
	if err != nil {
		return err
	}
	// Durable: the newest synced write covering each byte.
	minID := make([]int, o.size)
	copy(minID, o.baseID)
	for _, w := range o.writes[:o.synced] {
		for b := w.off; b < w.end; b++ {
			minID[b] = w.id
		}
	}
	for b := range o.size {
		if ids[b] < minID[b] {
			return fmt.Errorf("lost synced data at %d: shows write %d, write %d was synced", b, ids[b], minID[b])
		}
	}
	for _, w := range o.writes {
		if !w.untorn {
			continue
		}
		newer, older := int64(-1), int64(-1)
		for b := w.off; b < w.end && (newer < 0 || older < 0); b++ {
			if ids[b] >= w.id {
				newer = b
			} else {
				older = b
			}
		}
		if newer >= 0 && older >= 0 {
			return fmt.Errorf("%w: untorn write %d [%d, %d): offset %d shows write %d, offset %d shows older write %d",
				errTornInOracle, w.id, w.off, w.end, newer, ids[newer], older, ids[older])
		}
	}
	o.verified++
	return nil
}

var errTornInOracle = errors.New("torn untorn write")

// rebase makes img (verified) the new baseline: the file was reopened.
//
//go:norace
func (o *oracle) rebase(img []byte) error {
	ids, err := o.attribute(img)
	if err != nil {
		return err
	}
	o.baseImg, o.baseID = bytes.Clone(img), ids
	o.current = bytes.Clone(img)
	o.writes, o.synced = nil, 0
	return nil
}

// readAll reads the whole file through the public API.
func readAll(f *File) ([]byte, error) {
	img := make([]byte, f.Size())
	n, err := f.ReadAt(img, 0)
	if err != nil {
		return nil, err
	}
	if int64(n) != f.Size() {
		return nil, fmt.Errorf("short read %d of %d", n, f.Size())
	}
	return img, nil
}

// crashable is the Mem under a File's stack (possibly wrapped in faults).
type crashable interface {
	CrashClone(blockdev.CrashConfig) *blockdev.Mem
}

var _ crashable = (*blockdev.Mem)(nil)

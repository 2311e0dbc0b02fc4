package journal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

const testBS = 4096

// rig is a journal over two Mems, one machine: every operation of both
// passes a FaultDevice with the same injector, so one CrashPoint cuts the
// power of both at one instant and fault injectors count their operations
// together.
type rig struct {
	data, jrnl *blockdev.Mem
	crash      *blockdev.CrashPoint
	fd, fj     *blockdev.FaultDevice
	d          *Device
	opts       Options
}

// testOptions: a small journal that wraps and checkpoints often, and no
// background (the I/O depends on the test only).
func testOptions(areaBlocks int64) Options {
	return Options{Capacity: areaBlocks * testBS, NoBackground: true, QueueDepth: 4}
}

// newRig formats a journal of opts over a data Mem of dataSize bytes.
func newRig(t testing.TB, dataSize int64, opts Options) *rig {
	dl := blockdev.LimitsNone
	if opts.InPlace {
		dl = blockdev.LimitsNVMe // 16 KiB in hardware
	}
	data, err := blockdev.NewMem(dataSize, dl)
	require.NoError(t, err)
	jrnl, err := blockdev.NewMem((hdrCopies*testBS + opts.Capacity), blockdev.LimitsNone)
	require.NoError(t, err)
	r := &rig{data: data, jrnl: jrnl, opts: opts}
	r.wire(nil)
	d, err := Format(r.fd, r.fj, opts)
	require.NoError(t, err)
	r.d = d
	return r
}

// wire puts fresh FaultDevices (with a new CrashPoint, composed with inj)
// in front of the rig's Mems.
func (r *rig) wire(inj blockdev.Injector) {
	r.crash = blockdev.NewCrashPoint(r.data, r.jrnl)
	all := blockdev.Injector(r.crash)
	if inj != nil {
		all = blockdev.Any(r.crash, inj)
	}
	r.fd = blockdev.WithFaults(r.data, all)
	r.fj = blockdev.WithFaults(r.jrnl, all)
}

// setInjector puts inj in front of both devices (the rig's CrashPoint no
// longer sees their operations).
func (r *rig) setInjector(inj blockdev.Injector) {
	r.fd.SetInjector(inj)
	r.fj.SetInjector(inj)
}

// reopen opens the journal over mems (a crash image, or the rig's own
// after Close) as a new rig.
func reopen(t testing.TB, mems []*blockdev.Mem, opts Options, inj blockdev.Injector) (*rig, error) {
	r := &rig{data: mems[0], jrnl: mems[1], opts: opts}
	r.wire(inj)
	d, err := Open(r.fd, r.fj, opts)
	if err != nil {
		return r, err
	}
	r.d = d
	return r, nil
}

// cut returns the rig's devices as a power cut now would leave them.
func (r *rig) cut(cfg blockdev.CrashConfig) []*blockdev.Mem {
	return blockdev.CrashCloneAll(cfg, r.data, r.jrnl)
}

// fileModel is the file as transactions leave it: content (the whole
// logical capacity) and size.
type fileModel struct {
	content []byte
	size    int64
}

func (m fileModel) clone() fileModel {
	return fileModel{content: bytes.Clone(m.content), size: m.size}
}

// apply applies a transaction as CommitSized defines it.
func (m *fileModel) apply(pieces []blockdev.Piece, cut, size int64) {
	if cut < m.size {
		clear(m.content[ceilDiv(cut, testBS)*testBS:])
	}
	for _, p := range pieces {
		copy(m.content[p.Off:], p.Data)
	}
	m.size = size
}

// readImage reads the whole device and its file size.
func readImage(d *Device) (fileModel, error) {
	buf := blockdev.AlignedBuffer(int(d.Size()), d.Limits().MemAlign)
	if _, err := d.ReadAt(buf, 0); err != nil {
		return fileModel{}, err
	}
	return fileModel{content: buf, size: d.FileSize()}, nil
}

// matchState returns the index of the state in states that m equals, at
// or after from, or an error describing the closest one.
func matchState(m fileModel, states []fileModel, from int) (int, error) {
	for i := len(states) - 1; i >= from; i-- {
		if states[i].size == m.size && bytes.Equal(states[i].content, m.content) {
			return i, nil
		}
	}
	best, bestDiff := -1, int64(-1)
	for i := from; i < len(states); i++ {
		var diff int64
		for j := range m.content {
			if m.content[j] != states[i].content[j] {
				diff++
			}
		}
		if best < 0 || diff < bestDiff {
			best, bestDiff = i, diff
		}
	}
	return -1, fmt.Errorf("the image (size %d) matches none of states %d..%d; closest %d (size %d) differs in %d bytes",
		m.size, from, len(states)-1, best, states[best].size, bestDiff)
}

// randomTxn draws a transaction over a file of at most capacity bytes:
// pieces of whole blocks (untorn units up to 4 blocks), sometimes a cut,
// and a size that covers the pieces.
func randomTxn(rng *rand.Rand, cur, capacity int64) ([]blockdev.Piece, int64, int64) {
	blocks := capacity / testBS
	cut := cur
	if rng.IntN(6) == 0 {
		cut = rng.Int64N(cur + 1)
	}
	size := max(cut, cur)
	var pieces []blockdev.Piece
	used := map[int64]bool{}
	for range rng.IntN(4) {
		n := 1 + rng.Int64N(4)
		b := rng.Int64N(blocks - n + 1)
		clash := false
		for k := range n {
			clash = clash || used[b+k]
		}
		if clash {
			continue
		}
		data := make([]byte, n*testBS)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for k := range n {
			used[b+k] = true
		}
		pieces = append(pieces, blockdev.Piece{Off: b * testBS, Data: data})
		size = max(size, b*testBS+n*testBS-rng.Int64N(testBS))
	}
	if rng.IntN(8) == 0 {
		size = max(size, min(capacity, size+rng.Int64N(3*testBS)))
	}
	return pieces, cut, min(size, capacity)
}

func (m fileModel) equal(o fileModel) bool {
	return m.size == o.size && bytes.Equal(m.content, o.content)
}

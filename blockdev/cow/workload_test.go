package cow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// smallOptions make a device of 32 blocks with 8-block segments, so that a
// short workload wraps the log, cleans and checkpoints.
var smallOptions = Options{LogicalSize: 32 << 12, SegmentSize: 32 << 10, AtomicMax: 16 << 10,
	MaxBatch: 32 << 10, CheckpointInterval: 96 << 10}

type opKind uint8

const (
	opBatch opKind = iota
	opAtomic
	opPlain
	opFlush
	opSized // CommitSized: cut, then pieces, then size
)

// wop is one operation of a workload. Its data is stamped with crashmodel.Fill
// so every block of a recovered image can be attributed to its writer.
type wop struct {
	kind   opKind
	id     uint64
	flags  blockdev.Flags
	pieces []blockdev.Piece
	cut    int64 // opSized
	size   int64 // opSized
}

func (o wop) String() string {
	return fmt.Sprintf("op %d kind %d flags %v pieces %d", o.id, o.kind, o.flags, len(o.pieces))
}

// genOps draws n operations for a device of the given block count and limits.
func genOps(seed uint64, n int, nblocks int64, l blockdev.Limits) []wop {
	rng := rand.New(rand.NewPCG(seed, 99))
	bs := int64(l.BlockSize)
	ops := make([]wop, 0, n)
	for i := range n {
		o := wop{id: uint64(i + 1)}
		if rng.IntN(4) == 0 {
			o.flags |= blockdev.FUA
		}
		switch r := rng.IntN(10); {
		case r < 4:
			o.kind = opBatch
			used := map[int64]bool{}
			for range 1 + rng.IntN(4) {
				nb := 1 + rng.Int64N(2)
				lb := rng.Int64N(nblocks - nb + 1)
				free := true
				for b := lb; b < lb+nb; b++ {
					free = free && !used[b]
				}
				if !free {
					continue
				}
				for b := lb; b < lb+nb; b++ {
					used[b] = true
				}
				o.pieces = append(o.pieces, blockdev.Piece{Off: lb * bs, Data: make([]byte, nb*bs)})
			}
		case r < 6:
			o.kind = opAtomic
			o.flags |= blockdev.Atomic
			size := int64(l.AtomicMin) << rng.IntN(4)
			size = min(size, int64(l.AtomicMax))
			off := rng.Int64N(nblocks*bs/size) * size
			o.pieces = []blockdev.Piece{{Off: off, Data: blockdev.AlignedBuffer(int(size), l.MemAlign)}}
		case r < 9:
			o.kind = opPlain
			nb := 1 + rng.Int64N(8)
			lb := rng.Int64N(nblocks - nb + 1)
			o.pieces = []blockdev.Piece{{Off: lb * bs, Data: blockdev.AlignedBuffer(int(nb*bs), l.MemAlign)}}
		default:
			o.kind, o.flags = opFlush, 0
		}
		for _, p := range o.pieces {
			crashmodel.Fill(p.Data, o.id, p.Off)
		}
		ops = append(ops, o)
	}
	return ops
}

// apply runs o on d.
func (o wop) apply(d *Device) error {
	switch o.kind {
	case opBatch:
		return d.CommitBatch(o.pieces, o.flags)
	case opFlush:
		return d.Flush()
	case opSized:
		return d.CommitSized(o.pieces, o.cut, o.size, o.flags)
	}
	_, err := d.WriteAt(o.pieces[0].Data, o.pieces[0].Off, o.flags)
	return err
}

// durable reports whether o makes everything before it durable.
func (o wop) durable() bool { return o.kind == opFlush || o.flags&blockdev.FUA != 0 }

// prefixModel holds the owner (write id, 0 for never written) of every
// block after each prefix of a workload: a COW device recovers exactly one
// prefix of the operations it completed.
type prefixModel struct {
	bs     int64
	states [][]uint64 // states[k]: owners after the first k operations
	sizes  []int64    // sizes[k]: the file size after the first k operations
}

func newPrefixModel(nblocks, bs int64) *prefixModel {
	return &prefixModel{bs: bs, states: [][]uint64{make([]uint64, nblocks)}, sizes: []int64{0}}
}

// add records o as the next operation.
func (m *prefixModel) add(o wop) {
	s := slices.Clone(m.states[len(m.states)-1])
	size := m.sizes[len(m.sizes)-1]
	if o.kind == opSized {
		clear(s[(o.cut+m.bs-1)/m.bs:])
	}
	for _, p := range o.pieces {
		for b := p.Off / m.bs; b < (p.Off+int64(len(p.Data)))/m.bs; b++ {
			s[b] = o.id
		}
		size = max(size, p.Off+int64(len(p.Data)))
	}
	if o.kind == opSized {
		clear(s[(o.size+m.bs-1)/m.bs:])
		size = o.size
	}
	m.states = append(m.states, s)
	m.sizes = append(m.sizes, size)
}

// owners reads d whole and attributes every block, checking that it holds
// exactly what its writer wrote there (or zeros).
func owners(d blockdev.Device) ([]uint64, error) {
	img, err := crashmodel.ReadAll(d)
	if err != nil {
		return nil, err
	}
	bs := int64(d.Limits().BlockSize)
	want := make([]byte, bs)
	out := make([]uint64, int64(len(img))/bs)
	for b := range out {
		got := img[int64(b)*bs : int64(b+1)*bs]
		id := crashmodel.WordID(binary.LittleEndian.Uint64(got))
		clear(want)
		if id != 0 {
			crashmodel.Fill(want, id, int64(b)*bs)
		}
		if !bytes.Equal(got, want) {
			return nil, fmt.Errorf("block %d holds data nobody wrote (first word %#x)", b, binary.LittleEndian.Uint64(got))
		}
		out[b] = id
	}
	return out, nil
}

// match returns the prefix length k in [lo, hi] whose state d shows.
func (m *prefixModel) match(d blockdev.Device, lo, hi int) (int, error) {
	got, err := owners(d)
	if err != nil {
		return 0, err
	}
	size := int64(-1) // a device that keeps no file size matches any
	if c, ok := d.(*Device); ok {
		size = c.FileSize()
	}
	sameSize := func(k int) bool { return size < 0 || k >= len(m.sizes) || m.sizes[k] == size }
	for k := hi; k >= lo; k-- {
		if slices.Equal(got, m.states[k]) && sameSize(k) {
			return k, nil
		}
	}
	for k := len(m.states) - 1; k >= 0; k-- {
		if slices.Equal(got, m.states[k]) && sameSize(k) {
			return k, fmt.Errorf("device shows the state after %d operations, want one in [%d, %d]", k, lo, hi)
		}
	}
	return 0, fmt.Errorf("device shows no prefix state (want one in [%d, %d]): owners %v, file size %d", lo, hi, got, size)
}

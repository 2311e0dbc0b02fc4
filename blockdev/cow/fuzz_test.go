package cow

import (
	"bytes"
	"testing"
)

const fuzzBlock = 4096

// FuzzDecodeCheckpoint: decoding arbitrary bytes never panics, and a
// checkpoint it accepts encodes back to the same bytes.
func FuzzDecodeCheckpoint(f *testing.F) {
	c := checkpoint{devID: 5, gen: 3, startSeq: 10, startPos: 12, m: []uint32{0, 20, 21, 0, 33},
		sums: []uint32{0, 7, 8, 0, 9}}
	b := make([]byte, checkpointLen(int64(len(c.m))))
	c.encode(b)
	f.Add(b)
	f.Add(b[:ckptHeaderLen])
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCheckpoint(data)
		if err != nil {
			return
		}
		out := make([]byte, checkpointLen(int64(len(c.m))))
		c.encode(out)
		if !bytes.Equal(out, data[:len(out)]) {
			t.Fatalf("re-encoded checkpoint differs")
		}
	})
}

// FuzzDecodeSuperblock: decoding arbitrary bytes never panics, and a
// superblock it accepts has a geometry whose arithmetic stays in range.
func FuzzDecodeSuperblock(f *testing.F) {
	g, err := newGeometry(fuzzBlock, 0, smallOptions)
	if err != nil {
		f.Fatal(err)
	}
	s := superblock{blockSize: g.bs, devID: 1, ckptGen: 2, epoch: 3, nLogical: g.nLogical, segBlocks: g.segBlocks,
		nSegs: g.nSegs, ckptBlocks: g.ckptBlocks, atomicMax: g.atomicMax, maxBatch: g.maxBatch}
	b := make([]byte, fuzzBlock)
	s.encode(b)
	f.Add(b[:sbLen])
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSuperblock(data)
		if err != nil {
			return
		}
		g := s.geometry()
		if g.innerBlocks() <= g.dataStart() || g.segOf(g.innerBlocks()-1) != g.nSegs-1 {
			t.Fatalf("inconsistent geometry %+v", g)
		}
	})
}

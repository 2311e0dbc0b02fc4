package logrec

import (
	"bytes"
	"testing"
)

const fuzzBlock = 4096

// FuzzDecodeRecord: decoding arbitrary bytes never panics, and a header it
// accepts encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	r := Header{HdrBlocks: 1, Seq: 7, Epoch: 2, DevID: 99, Next: 40, DataBlocks: 5, DataCRC: 1234,
		DurableSeq: 6, Extents: []Extent{{LBlock: 3, Count: 2}, {LBlock: 9, Count: 3}}, Sums: []uint32{1, 2, 3, 4, 5}}
	b := make([]byte, fuzzBlock)
	r.Encode(b)
	f.Add(b)
	f.Add(b[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeHeader(data, fuzzBlock)
		if err != nil {
			return
		}
		out := make([]byte, r.HdrBlocks*fuzzBlock)
		r.Encode(out)
		n := HeaderLen + ExtentLen*len(r.Extents) + BlockSumLen*len(r.Sums)
		if !bytes.Equal(out[:n], data[:n]) {
			t.Fatalf("re-encoded header differs")
		}
	})
}

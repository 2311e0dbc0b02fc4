package logrec

import "sync"

// A record's data checksum is the CRC-32C of all its data blocks, and its
// header also holds each block's own CRC-32C. Both are computed from the
// data for a caller's write; computing the second from the first halves
// the checksum work of a commit (the largest CPU cost it has after the
// I/O). CRCs compose: for blocks A and B of n bytes each,
// crc(A‖B) = shift_n(crc(A)) ^ crc(B), where shift_n is the change the CRC
// register undergoes over n zero bytes, a linear map on 32-bit values
// (zlib's crc32_combine). Folder holds shift_n for the block size as
// four byte tables.

// Folder folds per-block CRC-32Cs into the CRC-32C of the blocks' concatenation.
type Folder struct{ shift [4][256]uint32 }

// folders holds one Folder per block size for every container and
// journal of the process (4 KiB of tables each, read only once built).
var folders sync.Map // int64 -> *Folder

// FolderFor returns the process's shared Folder for blocks of bs bytes.
func FolderFor(bs int64) *Folder {
	if f, ok := folders.Load(bs); ok {
		return f.(*Folder)
	}
	f, _ := folders.LoadOrStore(bs, NewFolder(bs))
	return f.(*Folder)
}

// NewFolder builds the folder for blocks of bs bytes.
func NewFolder(bs int64) *Folder {
	zeros := make([]byte, bs)
	// The register after bs zero bytes from state v: crc32.Update
	// conditions its input and output with ^, which raw undoes.
	raw := func(v uint32) uint32 { return ^CRCUpdate(^v, zeros) }
	var basis [32]uint32
	for i := range basis {
		basis[i] = raw(1 << i)
	}
	f := &Folder{}
	for k := range 4 {
		for b := range 256 {
			var v uint32
			for i := range 8 {
				if b&(1<<i) != 0 {
					v ^= basis[8*k+i]
				}
			}
			f.shift[k][b] = v
		}
	}
	return f
}

// Fold returns the CRC-32C of the concatenation of blocks whose own
// CRC-32Cs are sums (0 for none, as crc of no bytes).
func (f *Folder) Fold(sums []uint32) uint32 {
	if len(sums) == 0 {
		return 0
	}
	c := sums[0]
	for _, s := range sums[1:] {
		c = f.shift[0][byte(c)] ^ f.shift[1][byte(c>>8)] ^ f.shift[2][byte(c>>16)] ^ f.shift[3][byte(c>>24)] ^ s
	}
	return c
}

package blockdev

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWritevAt writes three aligned buffers vectored on a File, a Mem and
// a FaultDevice over each, and reads back their concatenation; a
// misaligned buffer, and an Atomic write of two buffers, fail and write
// nothing; a FaultDevice numbers the vectored write as one operation.
func TestWritevAt(t *testing.T) {
	l := Limits{BlockSize: 4096, MemAlign: 4096, AtomicMin: 4096, AtomicMax: 64 << 10}
	mem, err := NewMem(1<<20, l)
	require.NoError(t, err)
	file, err := OpenFile(filepath.Join(t.TempDir(), "dev"), FileOptions{Size: 1 << 20, Create: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = file.Close() })
	for name, dev := range map[string]VectorWriter{
		"mem": mem, "file": file, "fault-mem": WithFaults(mem, nil), "fault-file": WithFaults(file, nil),
	} {
		t.Run(name, func(t *testing.T) {
			bufs := [][]byte{AlignedBuffer(4096, 4096), AlignedBuffer(8192, 4096), AlignedBuffer(4096, 4096)}
			var want []byte
			for i, b := range bufs {
				for j := range b {
					b[j] = byte(i*31 + j + len(name))
				}
				want = append(want, b...)
			}
			fd, isFault := dev.(*FaultDevice)
			var ops uint64
			if isFault {
				ops = fd.Ops()
			}
			n, err := dev.WritevAt(bufs, 64<<10, 0)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			if isFault {
				require.Equal(t, ops+1, fd.Ops(), "one vectored write is one operation")
			}
			got := AlignedBuffer(len(want), 4096)
			_, err = dev.ReadAt(got, 64<<10)
			require.NoError(t, err)
			require.Equal(t, want, got)

			before := AlignedBuffer(16384, 4096)
			_, err = dev.ReadAt(before, 128<<10)
			require.NoError(t, err)
			odd := AlignedBuffer(4096+1, 4096)[1:]
			_, err = dev.WritevAt([][]byte{bufs[0], odd}, 128<<10, 0)
			require.ErrorIs(t, err, ErrMisaligned)
			_, err = dev.WritevAt([][]byte{bufs[0], bufs[2]}, 128<<10, Atomic)
			if !errors.Is(err, ErrAtomicUnsupported) {
				require.ErrorIs(t, err, ErrAtomicInvalid)
			}
			// One buffer with Atomic is WriteAt's write: the same result.
			_, werr := dev.WriteAt(bufs[0], 128<<10, Atomic)
			_, err = dev.WritevAt(bufs[:1], 128<<10, Atomic)
			require.Equal(t, werr == nil, err == nil, "WriteAt %v, WritevAt %v", werr, err)
			if werr != nil {
				require.ErrorIs(t, err, ErrAtomicUnsupported)
				require.ErrorIs(t, werr, ErrAtomicUnsupported)
			} else {
				_, err = dev.WriteAt(before[:4096], 128<<10, 0) // as it was, for the check below
				require.NoError(t, err)
			}
			_, err = dev.WritevAt(bufs, dev.Size()-4096, 0)
			require.ErrorIs(t, err, ErrOutOfRange)
			after := AlignedBuffer(16384, 4096)
			_, err = dev.ReadAt(after, 128<<10)
			require.NoError(t, err)
			require.Equal(t, before, after, "a refused vectored write wrote something")
		})
	}
}

// TestSkipBytes checks the short-write advance of a vector.
func TestSkipBytes(t *testing.T) {
	a, b, c := []byte("aaaa"), []byte("bb"), []byte("cccccc")
	require.Equal(t, [][]byte{[]byte("cccccc")}, skipBytes([][]byte{a, b, c}, 6))
	require.Equal(t, [][]byte{[]byte("b"), c}, skipBytes([][]byte{a, b, c}, 5))
	require.Empty(t, skipBytes([][]byte{a, b, c}, 12))
	require.Equal(t, "aaaa", string(a), "the caller's slices are left alone")
}

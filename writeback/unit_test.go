package writeback

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestPow2Cover(t *testing.T) {
	cases := []struct{ off, end, min, lo, hi int64 }{
		{0, 1, 4096, 0, 4096},
		{0, 4096, 4096, 0, 4096},
		{4095, 4097, 4096, 0, 8192},
		{16384, 32768, 4096, 16384, 32768},
		{12345, 12345 + 24000, 4096, 0, 65536},
		{1<<20 - 8192, 1<<20 + 8192, 4096, 0, 2 << 20},
		{100, 200, 16384, 0, 16384},
	}
	for _, c := range cases {
		lo, hi := pow2Cover(c.off, c.end, c.min)
		require.Equal(t, [2]int64{c.lo, c.hi}, [2]int64{lo, hi}, "cover of [%d, %d)", c.off, c.end)
	}
}

// TestPow2CoverProperty: the cover contains the range, is a naturally
// aligned power of two of at least min, and is the smallest such.
func TestPow2CoverProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		off := rapid.Int64Range(0, 1<<30).Draw(t, "off")
		end := off + rapid.Int64Range(1, 4<<20).Draw(t, "len")
		minLen := int64(4096) << rapid.IntRange(0, 4).Draw(t, "minShift")
		lo, hi := pow2Cover(off, end, minLen)
		l := hi - lo
		if lo > off || hi < end || l < minLen || l&(l-1) != 0 || lo%l != 0 {
			t.Fatalf("cover [%d, %d) of [%d, %d) min %d is wrong", lo, hi, off, end, minLen)
		}
		if half := l / 2; half >= minLen && off/half == (end-1)/half {
			t.Fatalf("cover [%d, %d) of [%d, %d) is not the smallest", lo, hi, off, end)
		}
	})
}

package logrec

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSumFolderMatchesCRC checks that folding block sums gives the CRC of
// the whole data, for several block sizes and block counts, and that a
// changed block changes the fold.
func TestSumFolderMatchesCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bs := range []int64{512, 4096} {
		f := NewFolder(bs)
		for _, n := range []int64{0, 1, 2, 3, 17, 256} {
			data := make([]byte, n*bs)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			sums := make([]uint32, n)
			for i := range n {
				sums[i] = CRC(data[i*bs : (i+1)*bs])
			}
			require.Equal(t, CRC(data), f.Fold(sums), "bs %d, %d blocks", bs, n)
			if n > 1 {
				data[bs+5] ^= 0x10
				sums[1] = CRC(data[bs : 2*bs])
				require.Equal(t, CRC(data), f.Fold(sums), "bs %d, %d blocks after a change", bs, n)
			}
		}
	}
}

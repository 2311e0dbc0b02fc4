package blockdev_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

func TestCrashPointClonesBeforeTheKthWrite(t *testing.T) {
	for k := range 4 {
		m, err := blockdev.NewMem(64<<10, blockdev.LimitsXFS)
		require.NoError(t, err)
		cp := blockdev.NewCrashPoint(m)
		d := blockdev.WithFaults(m, cp)
		cp.Arm(k, blockdev.CrashConfig{Survive: 1})
		buf := blockdev.AlignedBuffer(4096, 512)
		for i := range 3 {
			buf[0] = byte(i + 1)
			_, err := d.WriteAt(buf, int64(i)*4096, 0)
			require.NoError(t, err)
			_, err = d.ReadAt(buf, 0) // reads do not count
			require.NoError(t, err)
		}
		clone, ok := cp.Take()
		if k == 3 {
			require.False(t, ok, "only three writes came")
			continue
		}
		require.True(t, ok)
		img := memRead(t, clone)
		for i := range 3 {
			want := byte(0)
			if i < k {
				want = byte(i + 1)
			}
			require.Equal(t, want, img[i*4096], "k=%d block %d", k, i)
		}
		_, ok = cp.Take()
		require.False(t, ok, "Take disarms")
	}
}

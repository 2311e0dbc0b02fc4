package atomicio

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

func TestSmokeNative(t *testing.T) {
	mem, err := blockdev.NewMem(4<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	f, err := OpenDevice(mem, Options{CacheSize: 1 << 20})
	require.NoError(t, err)
	require.Equal(t, ModeNative, f.Mode())
	p := bytes.Repeat([]byte("abcdefgh"), 3000)
	n, err := WriteAt(f, p, 12345)
	require.NoError(t, err)
	require.Equal(t, len(p), n)
	got := make([]byte, len(p))
	_, err = f.ReadAt(got, 12345)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.NoError(t, f.Sync())
	clone := mem.CrashClone(blockdev.CrashConfig{})
	buf := blockdev.AlignedBuffer(64<<10, 512)
	_, err = clone.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, p[:1000], buf[12345:13345])
	t.Logf("%+v", f.Stats())
	require.NoError(t, f.Close())
}

package atomicio

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestPreallocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	f, err := Open(path, Options{Size: 4 << 20, Preallocate: true})
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	require.GreaterOrEqual(t, st.Blocks*512, int64(4<<20), "the initial size is allocated")
	p := pattern(5000, 3)
	_, err = WriteAt(f, p, 777)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	g, err := Open(path, Options{})
	require.NoError(t, err)
	defer g.Close()
	got := make([]byte, len(p))
	_, err = g.ReadAt(got, 777)
	require.NoError(t, err)
	require.Equal(t, p, got)
}

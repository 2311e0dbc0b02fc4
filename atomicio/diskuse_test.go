package atomicio

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/internal/xfstest"
)

// diskUse returns the bytes of disk the file at path occupies.
func diskUse(t *testing.T, path string) int64 {
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Blocks * 512
}

// checkDiskUse creates a COW file with Options{}, sizes it to 1 GiB and
// writes 100 MiB of 16 KiB pages at random page offsets, then overwrites
// 150 MiB of random pages among them: the container must hold about the
// live data plus its headroom, never the logical size or twice it. It
// also cuts the file to 10 MiB and checks the space comes back.
func checkDiskUse(t *testing.T, dir string) {
	path := filepath.Join(dir, "data")
	f, err := Open(path, Options{})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.Equal(t, ModeCOW, f.Mode())
	const (
		logical = 1 << 30
		data    = 100 << 20
		page    = 16 << 10
	)
	require.NoError(t, f.Truncate(logical))
	rng := rand.New(rand.NewPCG(1, 2))
	slots := rng.Perm(logical / page)[:data/page] // distinct pages
	buf := make([]byte, page)
	for i, s := range slots {
		buf[0], buf[1] = byte(i), byte(i>>8)
		_, err := WriteAt(f, buf, int64(s)*page)
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	fresh := diskUse(t, path)
	for i := range 3 * data / page / 2 {
		buf[0] = byte(i)
		_, err := WriteAt(f, buf, int64(slots[rng.IntN(len(slots))])*page)
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	aged := diskUse(t, path)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	t.Logf("1 GiB file, 100 MiB of 16 KiB pages: %d MiB on disk; after 150 MiB of random overwrites %d MiB (live data %d MiB, apparent size %d GiB, default COWSparePercent %d)",
		fresh>>20, aged>>20, f.Stats().COW.LiveBytes>>20, st.Size>>30, DefaultCOWSparePercent)
	require.Equal(t, int64(logical), f.Size())
	require.Less(t, fresh, int64(data*13/10), "a fresh container holds its data, not its size")
	require.Less(t, aged, int64(data)*(100+DefaultCOWSparePercent)/100+64<<20, "an aged container stays within its headroom")

	require.NoError(t, f.Truncate(10<<20))
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	g, err := Open(path, Options{}) // Open gives the freed segments back
	require.NoError(t, err)
	defer func() { _ = g.Abandon() }()
	cut := diskUse(t, path)
	t.Logf("cut to 10 MiB and reopened: %d MiB on disk", cut>>20)
	require.Equal(t, int64(10<<20), g.Size())
	// What stays is the live 10 MiB, scattered over segments the cleaner
	// has not needed to empty yet, within the same headroom as before.
	require.Less(t, cut, aged/3, "the space of what was cut comes back")
	require.NoError(t, g.Close())
}

func TestDiskUseFollowsData(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 250 MiB")
	}
	t.Run("ext4", func(t *testing.T) {
		dir := t.TempDir()
		if !isExt4Dir(t, dir) {
			t.Skip("temp dir is not ext4")
		}
		checkDiskUse(t, dir)
	})
	t.Run("xfs", func(t *testing.T) { checkDiskUse(t, xfstest.Mount(t)) })
}

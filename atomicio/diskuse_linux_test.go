package atomicio

import (
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/journal"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/internal/xfstest"
)

// diskUse returns the bytes of disk the file at path occupies.
// diskUse is the disk space a file takes (with its journal, in journal
// mode: checkDiskUse sets it so).
var diskUse = fileDiskUse

func fileDiskUse(t *testing.T, path string) int64 {
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Blocks * 512
}

// checkDiskUse creates a file in mode (COW or journal) with otherwise
// default Options, sizes it to 1 GiB and writes 100 MiB of 16 KiB pages
// at random page offsets, then overwrites 150 MiB of random pages among
// them. A COW container must hold about the live data plus its headroom,
// never the logical size or twice it, and its apparent size (ls -l) must
// follow the log: the part the format fixes (the superblocks and both
// checkpoint slots, which the data area follows: cow.DataOffset, about
// 4 GiB at the default MaxSize of 1 TiB) plus the segments up to the
// highest in use, well below twice the live data after the first writes,
// growing as the log does. A file in journal mode must hold its data and
// the journal, with an apparent size equal to its size. It also cuts the
// file to 10 MiB and checks the space comes back.
func checkDiskUse(t *testing.T, dir string, mode Mode) {
	path := filepath.Join(dir, "data-"+mode.String())
	f, err := Open(path, Options{Mode: mode})
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	require.Equal(t, mode, f.Mode())
	if mode == ModeJournal {
		diskUse = func(t *testing.T, path string) int64 { return fileDiskUse(t, path) + fileDiskUse(t, JournalPath(path)) }
		defer func() { diskUse = fileDiskUse }()
	}
	const (
		logical = 1 << 30
		data    = 100 << 20
		page    = 16 << 10
	)
	apparent := func() int64 {
		var st unix.Stat_t
		require.NoError(t, unix.Stat(path, &st))
		return st.Size
	}
	created := apparent()
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
	fresh, freshSize := diskUse(t, path), apparent()
	for i := range 3 * data / page / 2 {
		buf[0] = byte(i)
		_, err := WriteAt(f, buf, int64(slots[rng.IntN(len(slots))])*page)
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	aged := diskUse(t, path)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	require.Equal(t, int64(logical), f.Size())
	if mode == ModeJournal {
		require.NoError(t, f.Close()) // the last checkpoint: everything home, the journal gone
		require.NoError(t, unix.Stat(path, &st))
		home := fileDiskUse(t, path)
		t.Logf("journal mode, 1 GiB file, 100 MiB of 16 KiB pages: %d MiB on disk with the journal; after 150 MiB of random overwrites %d MiB; closed %d MiB, apparent size %d MiB",
			fresh>>20, aged>>20, home>>20, st.Size>>20)
		require.Equal(t, int64(logical), st.Size, "ls -l shows the file's size")
		require.Less(t, fresh, int64(data)+journal.DefaultCapacity+8<<20, "the data and the journal, never the logical size")
		require.Less(t, aged, int64(data)+journal.DefaultCapacity+8<<20, "overwrites take no more space")
		require.Less(t, home, int64(data)+4<<20, "closed, the file holds its data")
		f, err = Open(path, Options{})
		require.NoError(t, err)
		require.Equal(t, ModeJournal, f.Mode())
	} else {
		fixed, err := cow.DataOffset(4096, cowOptions(Options{}, DefaultMaxSize))
		require.NoError(t, err)
		t.Logf("1 GiB file, 100 MiB of 16 KiB pages: %d MiB on disk; after 150 MiB of random overwrites %d MiB (live data %d MiB, default COWSparePercent %d)",
			fresh>>20, aged>>20, f.Stats().COW.LiveBytes>>20, DefaultCOWSparePercent)
		t.Logf("apparent size (ls -l): new %d MiB (to the second root's checkpoint); with the data %d MiB, aged %d MiB: the data area's start %d MiB + %d, %d MiB of segments",
			created>>20, freshSize>>20, st.Size>>20, fixed>>20, (freshSize-fixed)>>20, (st.Size-fixed)>>20)
		require.Less(t, fresh, int64(data*13/10), "a fresh container holds its data, not its size")
		require.Less(t, aged, int64(data)*(100+DefaultCOWSparePercent)/100+64<<20, "an aged container stays within its headroom")
		require.LessOrEqual(t, created, fixed, "a new container's file holds no segment")
		require.Less(t, freshSize, fixed+2*data, "the apparent size: the fixed part and well below twice the live data")
		require.Less(t, freshSize-fixed, fresh+8<<20, "the segments up to the highest in use are about what the disk holds")
		require.Greater(t, freshSize, created, "the file grows with the log")
		require.GreaterOrEqual(t, st.Size, freshSize, "and with its overwrites")
		require.Less(t, st.Size, fixed+int64(data)*(100+DefaultCOWSparePercent)/100+64<<20, "within the headroom, as the disk use")
	}

	require.NoError(t, f.Truncate(10<<20))
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	g, err := Open(path, Options{}) // Open gives the freed segments back
	require.NoError(t, err)
	defer func() { _ = g.Abandon() }()
	cut := diskUse(t, path)
	t.Logf("cut to 10 MiB and reopened: %d MiB on disk, apparent size %d MiB", cut>>20, apparent()>>20)
	require.Equal(t, int64(10<<20), g.Size())
	// What stays is the live 10 MiB, scattered over segments the cleaner
	// has not needed to empty yet, within the same headroom as before.
	require.Less(t, cut, aged/3, "the space of what was cut comes back")
	require.NoError(t, g.Close())
	if mode == ModeJournal {
		require.NoError(t, unix.Stat(path, &st))
		require.Equal(t, int64(10<<20), st.Size)
		require.Less(t, fileDiskUse(t, path), int64(10<<20)+1<<20)
	}
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
		for _, m := range []Mode{ModeCOW, ModeJournal} {
			checkDiskUse(t, dir, m)
		}
	})
	t.Run("xfs", func(t *testing.T) {
		for _, m := range []Mode{ModeCOW, ModeJournal} {
			checkDiskUse(t, xfstest.Mount(t), m)
		}
	})
}

package atomicio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/internal/xfstest"
)

// realFileProperty runs the non-crash actions of the oracle (untorn and
// plain writes, reads checked against a model, Sync, Close and reopen)
// against a real file at path, opened with opts.
func realFileProperty(t *testing.T, path string, opts Options, want Mode) {
	const size = 4 << 20
	opts.Size = size
	rapid.Check(t, func(rt *rapid.T) {
		_ = os.Remove(path)
		_ = os.Remove(JournalPath(path)) // the last case's abandoned File left it
		f, err := Open(path, opts)
		require.NoError(rt, err)
		defer func() { _ = f.Abandon() }()
		require.Equal(rt, want, f.Mode())
		model := make([]byte, f.Size())
		id := 0
		genRange := func(rt *rapid.T) (int64, int) {
			n := rapid.IntRange(1, 64<<10).Draw(rt, "len")
			if rapid.Bool().Draw(rt, "aligned") {
				n = 16 << 10
				return int64(rapid.IntRange(0, int(f.Size())/n-1).Draw(rt, "slot")) * int64(n), n
			}
			return int64(rapid.IntRange(0, int(f.Size())-n).Draw(rt, "off")), n
		}
		write := func(rt *rapid.T, untorn bool) {
			off, n := genRange(rt)
			id++
			p := make([]byte, n)
			fillWrite(p, id%250+1, off)
			if untorn {
				_, err = WriteAt(f, p, off)
			} else {
				_, err = f.WriteAt(p, off)
			}
			if want == ModeNative && errors.Is(err, ErrTooLarge) {
				return // the unit around an unaligned write exceeds the file system's maximum
			}
			require.NoError(rt, err)
			copy(model[off:], p)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"untorn": func(rt *rapid.T) { write(rt, true) },
			"plain":  func(rt *rapid.T) { write(rt, false) },
			"read": func(rt *rapid.T) {
				off, n := genRange(rt)
				got := make([]byte, n)
				_, err := f.ReadAt(got, off)
				require.NoError(rt, err)
				require.True(rt, bytes.Equal(model[off:off+int64(n)], got), "read [%d, +%d)", off, n)
			},
			"sync": func(rt *rapid.T) { require.NoError(rt, f.Sync()) },
			"reopen": func(rt *rapid.T) {
				require.NoError(rt, f.Close())
				g, err := Open(path, opts)
				require.NoError(rt, err)
				f = g
				require.Equal(rt, want, f.Mode(), "an existing file is recognised")
				img, err := readAll(f)
				require.NoError(rt, err)
				require.True(rt, bytes.Equal(model, img), "content after reopen")
			},
		})
	})
}

func TestRealFileCOWOnTempDir(t *testing.T) {
	t.Parallel()
	realFileProperty(t, filepath.Join(t.TempDir(), "data"), Options{CacheSize: 1 << 20, Mode: ModeCOW}, ModeCOW)
}

func TestRealFileJournalOnTempDir(t *testing.T) {
	t.Parallel()
	realFileProperty(t, filepath.Join(t.TempDir(), "data"), Options{CacheSize: 1 << 20, JournalSize: 1 << 20}, ModeJournal)
}

// TestRealFilePortable: the portable File (what macOS and Windows run:
// no O_DIRECT, no untorn writes from the file system), in the default
// mode (journal) and in COW mode, through creation, reopen and Close.
func TestRealFilePortable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts Options
		want Mode
	}{
		{"journal", Options{CacheSize: 1 << 20, JournalSize: 1 << 20, Portable: true}, ModeJournal},
		{"cow", Options{CacheSize: 1 << 20, Mode: ModeCOW, Portable: true}, ModeCOW},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			realFileProperty(t, filepath.Join(t.TempDir(), "data"), c.opts, c.want)
		})
	}
}

// TestRealFilePortableOnXFS: on a file system with RWF_ATOMIC, a portable
// File claims no untorn writes all the same (native mode is refused; the
// default is journal mode), and the untorn writes are the journal's.
func TestRealFilePortableOnXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	_, err := Open(filepath.Join(mnt, "native"), Options{Mode: ModeNative, Portable: true})
	require.ErrorIs(t, err, ErrNoUntornWrites)
	f, err := Open(filepath.Join(mnt, "native"), Options{Mode: ModeNative})
	require.NoError(t, err, "the same file system without Portable")
	require.NoError(t, f.Close())
	realFileProperty(t, filepath.Join(mnt, "data"), Options{CacheSize: 1 << 20, JournalSize: 1 << 20, Portable: true}, ModeJournal)
}

func TestRealFileNativeOnXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	realFileProperty(t, filepath.Join(mnt, "data"), Options{CacheSize: 1 << 20, Mode: ModeNative}, ModeNative)
}

func TestRealFileCOWOnXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	realFileProperty(t, filepath.Join(mnt, "data"), Options{CacheSize: 1 << 20, Mode: ModeCOW}, ModeCOW)
}

// TestRealFileJournalOnXFS: the default for a new file on XFS (whose
// atomic writes are software, unit max opt 0) is journal mode.
func TestRealFileJournalOnXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	realFileProperty(t, filepath.Join(mnt, "data"), Options{CacheSize: 1 << 20, JournalSize: 1 << 20}, ModeJournal)
}

// TestOpenPlainFileWithoutUntornWrites: a plain file on a file system
// without RWF_ATOMIC opens in journal mode (it used to be refused), stays
// byte for byte what it was, and is an ordinary file again after Close,
// its journal gone; native mode is still refused there.
func TestOpenPlainFileWithoutUntornWrites(t *testing.T) {
	dir := t.TempDir()
	if !isExt4Dir(t, dir) {
		t.Skip("temp dir is not ext4")
	}
	path := filepath.Join(dir, "plain")
	content := bytes.Repeat([]byte("data"), 4096)
	require.NoError(t, os.WriteFile(path, content, 0o644))
	f, err := Open(path, Options{})
	require.NoError(t, err)
	require.Equal(t, ModeJournal, f.Mode())
	require.EqualValues(t, len(content), f.Size())
	got := make([]byte, len(content))
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, content, got)
	_, err = os.Stat(JournalPath(path))
	require.NoError(t, err, "the journal is beside the file while it is open")
	require.NoError(t, f.Close())
	_, err = os.Stat(JournalPath(path))
	require.ErrorIs(t, err, os.ErrNotExist, "a clean Close removes the journal")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, content, got, "the file is what it was")
	g, err := Open(filepath.Join(dir, "new"), Options{})
	require.NoError(t, err, "a new file needs no Options.Size: it grows")
	require.Zero(t, g.Size())
	require.Equal(t, ModeJournal, g.Mode(), "the default for a new file")
	require.NoError(t, g.Close())
	_, err = Open(filepath.Join(dir, "native"), Options{Size: 1 << 20, Mode: ModeNative})
	require.ErrorIs(t, err, ErrNoUntornWrites)
	_, err = os.Stat(filepath.Join(dir, "native"))
	require.ErrorIs(t, err, os.ErrNotExist, "a failed create leaves no file behind")
}

func TestOpenTwiceIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	f, err := Open(path, Options{Size: 4 << 20})
	require.NoError(t, err)
	_, err = Open(path, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, f.Close())
	g, err := Open(path, Options{})
	require.NoError(t, err)
	require.NoError(t, g.Close())
}

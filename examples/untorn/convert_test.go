//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/internal/testsize"
)

// requireConverted checks the result of a conversion of path: an
// ordinary file with exactly want (bytes and length), the container's
// permission bits, no leftovers, and atomicio opens it in the mode it
// picks for a plain file (journal mode, unless the file system writes
// untorn units natively) and reads want.
func requireConverted(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	requireSame(t, want, got, "the converted file, read with os.ReadFile")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	temp, record := convertNames(path)
	require.NoFileExists(t, temp)
	require.NoFileExists(t, record)
	require.NoFileExists(t, record+".tmp")
	wantMode := atomicio.ModeJournal
	if nativePick(path) {
		wantMode = atomicio.ModeNative
	}
	mode, got := readThrough(t, path)
	require.Equal(t, wantMode, mode)
	requireSame(t, want, got, "the converted file, read through atomicio")
	require.NoFileExists(t, atomicio.JournalPath(path), "atomicio's Close removes the journal")
}

// newContainer makes a container of 16 pages at path, mode 0640.
func newContainer(t *testing.T, path string) []byte {
	want := makeFile(t, path, atomicio.ModeCOW, 16)
	require.NoError(t, os.Chmod(path, 0o640))
	return want
}

// requireIntact checks that the container at path is still a container
// holding want (read without writing).
func requireIntact(t *testing.T, path string, want []byte) {
	t.Helper()
	tg, err := classify(path)
	require.NoError(t, err)
	require.Equal(t, kindCOW, tg.kind)
	c, err := openCOWReadOnly(path)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, int64(len(want)), c.FileSize())
	buf := make([]byte, (len(want)+4095)/4096*4096)
	_, err = c.ReadAt(buf, 0)
	require.NoError(t, err)
	requireSame(t, want, buf[:len(want)], "the container")
}

// TestConvert: a container becomes an ordinary file with its bytes and
// exact size (holes where it held zeros), which atomicio opens in journal
// mode; a second convert finds nothing to convert.
func TestConvert(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	want := newContainer(t, path)
	code, out, errOut := runVerb(t, "convert", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "converted: copied 1.0 MiB")
	require.Regexp(t, `^convert .*c\.db: 1\.0 MiB in \d+\.\ds \(.*/s\)\n$`, errOut)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, diskUse(fi), fi.Size(), "zeros stay holes")
	requireConverted(t, path, want)

	code, _, errOut = runVerb(t, "convert", path, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "not a COW container")
}

// killPoints are where the conversion tests stop or kill a conversion:
// the point and which time it is reached. 16 chunks of 64 KiB, a durable
// record after every 4.
var killPoints = []struct {
	point string
	k     int
	// resumes: the re-run goes on from a durable record.
	resumes bool
}{
	{"copied", 1, false},
	{"copied", 6, true},
	{"durable", 1, true},
	{"durable", 3, true},
	{"copied", 16, true},
	{"complete", 1, true},
	{"renamed", 1, false},
	{"published", 1, false},
}

// stopAt returns a hook that stops a conversion the k-th time it reaches
// point.
func stopAt(point string, k int) func(string, int64) error {
	seen := 0
	return func(p string, _ int64) error {
		if p == point {
			if seen++; seen == k {
				return errStopped
			}
		}
		return nil
	}
}

// TestConvertStopped: a conversion stopped at any point (as a kill would
// stop it: nothing cleaned up) leaves the container intact and openable
// up to the rename; a re-run completes it, resuming from the last durable
// record, and the result is the container's content.
func TestConvertStopped(t *testing.T) {
	t.Parallel()
	for _, kp := range killPoints {
		t.Run(kp.point+"-"+strconv.Itoa(kp.k), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.db")
			want := newContainer(t, path)
			code, _, errOut := runVerb(t, "convert", path, stopAt(kp.point, kp.k))
			require.Equal(t, 2, code)
			require.Contains(t, errOut, "stopped by a test hook")
			switch kp.point {
			case "renamed", "published":
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				requireSame(t, want, got, "the file after the rename")
			default:
				requireIntact(t, path, want)
			}
			code, out, _ := runVerb(t, "convert", path, nil)
			require.Equal(t, 0, code)
			if kp.resumes {
				require.Contains(t, out, "resumed at")
			} else {
				require.NotContains(t, out, "resumed at")
			}
			requireConverted(t, path, want)
		})
	}
}

// TestConvertKilled: the same with a real SIGKILL of a child process at
// some of the points.
func TestConvertKilled(t *testing.T) {
	// Not parallel: it forks (see runChild).
	points := testsize.Pick([]int{2, 4, 6}, []int{0, 1, 2, 3, 4, 5, 6, 7})
	for _, i := range points {
		kp := killPoints[i]
		t.Run(kp.point+"-"+strconv.Itoa(kp.k), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.db")
			want := newContainer(t, path)
			runChild(t, "convert", path, kp.point+","+strconv.Itoa(kp.k), 0)
			code, out, _ := runVerb(t, "convert", path, nil)
			require.Equal(t, 0, code)
			if kp.resumes {
				require.Contains(t, out, "resumed at")
			}
			requireConverted(t, path, want)
		})
	}
}

// TestConvertStartsOver: what a stopped conversion left is not trusted
// blindly: when the container was written to since (opened through
// atomicio), when the temporary file's copied part was damaged, or when
// the progress record is damaged, the re-run starts over, and the result
// is the container's content as it is now.
func TestConvertStartsOver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		meddle func(t *testing.T, path string, want []byte) []byte
		// note: the re-run says so on stderr when it compared the copied
		// part with the container and found a difference; without it, the
		// re-run must have started over before comparing anything.
		note string
	}{
		{"container-written", func(t *testing.T, path string, want []byte) []byte {
			f, err := atomicio.Open(path, testOpts(atomicio.ModeAuto))
			require.NoError(t, err)
			require.Equal(t, atomicio.ModeCOW, f.Stats().Mode)
			want = writeFile(t, f, want, 2, 1, 1) // over data the first run copied
			require.NoError(t, f.Close())
			return want
		}, ""},
		{"temp-damaged", func(t *testing.T, path string, want []byte) []byte {
			temp, _ := convertNames(path)
			flipBits(t, temp, 0, 7)
			return want
		}, "does not match the container: starting over"},
		{"record-damaged", func(t *testing.T, path string, want []byte) []byte {
			_, record := convertNames(path)
			b, err := os.ReadFile(record)
			require.NoError(t, err)
			b[len("untorn-convert 1\nsource ")] ^= 1
			require.NoError(t, os.WriteFile(record, b, 0o600))
			return want
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.db")
			want := newContainer(t, path)
			code, _, _ := runVerb(t, "convert", path, stopAt("durable", 2))
			require.Equal(t, 2, code)
			want = tc.meddle(t, path, want)
			code, out, errOut := runVerb(t, "convert", path, nil)
			require.Equal(t, 0, code)
			require.NotContains(t, out, "resumed at")
			if tc.note != "" {
				require.Contains(t, errOut, tc.note)
			} else {
				require.NotContains(t, errOut, "does not match", "the stamp or the record should have sent it back to the start")
			}
			requireConverted(t, path, want)
		})
	}
}

// TestConvertRefuses: convert leaves alone a container open through
// atomicio (in use), a file in journal mode, a plain file and a damaged
// container (exit 1; nothing left behind, the container unchanged).
func TestConvertRefuses(t *testing.T) {
	// Not parallel: it forks (see runChild).
	dir := t.TempDir()
	open := filepath.Join(dir, "open.db")
	f, err := atomicio.Open(open, testOpts(atomicio.ModeCOW))
	require.NoError(t, err)
	code, _, errOut := runVerb(t, "convert", open, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "is in use")
	require.NoError(t, f.Close())

	journaled := filepath.Join(dir, "j.db")
	crashFile(t, journaled, atomicio.ModeJournal, 4, 0, 4)
	code, _, errOut = runVerb(t, "convert", journaled, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "the file has a journal")

	damaged := filepath.Join(dir, "d.db")
	newContainer(t, damaged)
	flipBits(t, damaged, findBlock(t, damaged, marker(9, 0, 1)), 10, 20)
	agedTimes(t, damaged)
	before := stateOf(t, damaged)
	code, _, errOut = runVerb(t, "convert", damaged, nil)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "convert refuses a damaged container")
	require.Equal(t, before, stateOf(t, damaged))
	for _, p := range []string{open, journaled, damaged} {
		temp, record := convertNames(p)
		require.NoFileExists(t, temp)
		require.NoFileExists(t, record)
	}
}

// TestConvertSymlink: a container behind a symbolic link is converted
// where it is; the link stays a link.
func TestConvertSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.db")
	want := newContainer(t, path)
	link := filepath.Join(dir, "link.db")
	require.NoError(t, os.Symlink("c.db", link))
	code, _, _ := runVerb(t, "convert", link, nil)
	require.Equal(t, 0, code)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, fi.Mode().Type())
	requireConverted(t, path, want)
}

//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/atomicio"
)

const (
	testPage = 16 << 10
	// testSize is the files' size: not a multiple of a block, so that the
	// exact length is checked everywhere.
	testSize = 1<<20 + 1000
)

// testOpts are small Files: little cache memory, a 1 MiB journal, a COW
// container of at most 8 MiB.
func testOpts(mode atomicio.Mode) atomicio.Options {
	return atomicio.Options{Mode: mode, Size: testSize, CacheSize: 2 << 20, MaxAtomic: 64 << 10, JournalSize: 1 << 20, MaxSize: 8 << 20, FlushInterval: -1}
}

// testEnv runs verbs with output in buffers, stderr no terminal, and a
// small conversion (64 KiB chunks, a durable record every 256 KiB).
type testEnv struct {
	env
	out, errOut bytes.Buffer
}

func newTestEnv() *testEnv {
	te := &testEnv{}
	te.env = env{stdout: &te.out, stderr: &te.errOut, now: time.Now, convert: convertConfig{chunk: 64 << 10, durable: 256 << 10}}
	return te
}

// runVerb runs `untorn verb path` in a fresh environment (hook, when not
// nil, goes into the conversion) and returns the exit status and both
// outputs.
func runVerb(t *testing.T, verb, path string, hook func(string, int64) error) (int, string, string) {
	t.Helper()
	te := newTestEnv()
	te.convert.hook = hook
	code := run(&te.env, []string{verb, path})
	t.Logf("untorn %s %s: exit %d\nstdout:\n%sstderr:\n%s", verb, filepath.Base(path), code, te.out.String(), te.errOut.String())
	return code, te.out.String(), te.errOut.String()
}

// page is the content of page i written in round r: every 4 KiB block
// starts with a marker naming it (tests find blocks in the files by it),
// the rest is pseudo-random.
func page(i, r int) []byte {
	p := make([]byte, testPage)
	x := uint32(i*7919 + r*104729 + 1)
	for k := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[k] = byte(x)
	}
	for b := 0; b < testPage; b += 4096 {
		copy(p[b:], marker(i, r, b/4096))
	}
	return p
}

func marker(i, r, block int) string {
	return fmt.Sprintf("untorn-test page %04d round %d block %d.", i, r, block)
}

// pageOff is where page i goes: spread over the file, pages i%3 != 0 at
// unaligned offsets, page 7 across the file's unaligned end (it grows the
// file to another unaligned size).
func pageOff(i int) int64 {
	return int64(i*37%65)*testPage + int64(i%3)*1000
}

// writeFile creates path with opts and writes pages 0..n-1 (round r)
// untorn, syncing after every `every` pages; it returns the file's content
// as the writes leave it (from base, nil for a new file).
func writeFile(t *testing.T, f *atomicio.File, base []byte, n, r, every int) []byte {
	t.Helper()
	want := bytes.Clone(base)
	for i := range n {
		p, off := page(i, r), pageOff(i)
		_, err := atomicio.WriteAt(f, p, off)
		require.NoError(t, err)
		if end := off + int64(len(p)); end > int64(len(want)) {
			want = append(want, make([]byte, end-int64(len(want)))...)
		}
		copy(want[off:], p)
		if (i+1)%every == 0 {
			require.NoError(t, f.Sync())
		}
	}
	require.NoError(t, f.Sync())
	require.Equal(t, int64(len(want)), f.Size())
	return want
}

// makeFile creates a file at path in mode with n pages (a sync every 4)
// and closes it; it returns the content.
func makeFile(t *testing.T, path string, mode atomicio.Mode, n int) []byte {
	t.Helper()
	f, err := atomicio.Open(path, testOpts(mode))
	require.NoError(t, err)
	want := writeFile(t, f, make([]byte, testSize), n, 0, 4)
	require.NoError(t, f.Close())
	return want
}

// readThrough opens path with atomicio and returns its mode and content.
func readThrough(t *testing.T, path string) (atomicio.Mode, []byte) {
	t.Helper()
	f, err := atomicio.Open(path, testOpts(atomicio.ModeAuto))
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	buf := make([]byte, f.Size())
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	return f.Stats().Mode, buf
}

// requireSame fails with where two contents first differ.
func requireSame(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	require.FailNow(t, what, "lengths %d and %d, first difference at byte %d", len(want), len(got), i)
}

// findBlock returns the offset of the 4 KiB block of the file at path
// that starts with mark (skipping holes), or fails.
func findBlock(t *testing.T, path, mark string) int64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	buf := make([]byte, 4096)
	for off := int64(0); off < fi.Size(); off += 4096 {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		require.NoError(t, err)
		off = data / 4096 * 4096
		_, err = f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			require.NoError(t, err)
		}
		if bytes.HasPrefix(buf, []byte(mark)) {
			return off
		}
	}
	require.FailNow(t, "block not found", "%q in %s", mark, path)
	return -1
}

// flipBits flips bits (numbered from the block's start) of the 4 KiB
// block at off of the file at path, keeping its times (so that nothing
// looks like a write through untorn).
func flipBits(t *testing.T, path string, off int64, bits ...int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	blk := make([]byte, 4096)
	_, err = f.ReadAt(blk, off)
	require.NoError(t, err)
	for _, b := range bits {
		blk[b/8] ^= 1 << (b % 8)
	}
	_, err = f.WriteAt(blk, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// fileState is what changes when anything writes a file: its times, size
// and blocks, and a checksum of its data regions.
type fileState struct {
	mtime, ctime time.Time
	size, blocks int64
	sum          uint32
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	s := fileState{mtime: time.Unix(st.Mtim.Unix()), ctime: time.Unix(st.Ctim.Unix()), size: st.Size, blocks: st.Blocks}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	buf := make([]byte, 1<<20)
	for off := int64(0); off < st.Size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		require.NoError(t, err)
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		require.NoError(t, err)
		for p := data; p < hole; {
			n := min(int64(len(buf)), hole-p)
			_, err := f.ReadAt(buf[:n], p)
			require.NoError(t, err)
			fmt.Fprintf(h, "%d:", p)
			h.Write(buf[:n])
			p += n
		}
		off = hole
	}
	s.sum = h.Sum32()
	return s
}

// Child processes: TestChild runs in a re-executed test binary when the
// environment asks, and kills itself (SIGKILL) at a chosen point.
const (
	childEnv   = "UNTORN_CLI_CHILD" // what the child does: "write" or "convert"
	childPath  = "UNTORN_CLI_PATH"
	childArg   = "UNTORN_CLI_ARG"   // write: "mode,pages,every"; convert: "point,k"
	childRound = "UNTORN_CLI_ROUND" // write: the round of the pages
)

// TestChild is the child process; it does nothing in a normal run.
func TestChild(t *testing.T) {
	what := os.Getenv(childEnv)
	if what == "" {
		t.Skip("child process of the kill tests only")
	}
	path, args := os.Getenv(childPath), strings.Split(os.Getenv(childArg), ",")
	die := func() {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	switch what {
	case "write":
		// Write pages, Sync, and die with the File open: its journal (or
		// container log) holds the records, nothing checkpointed.
		mode, _ := strconv.Atoi(args[0])
		n, _ := strconv.Atoi(args[1])
		every, _ := strconv.Atoi(args[2])
		r, _ := strconv.Atoi(os.Getenv(childRound))
		f, err := atomicio.Open(path, testOpts(atomicio.Mode(mode)))
		require.NoError(t, err)
		writeFile(t, f, make([]byte, testSize), n, r, every)
		die()
	case "convert":
		k, _ := strconv.Atoi(args[1])
		seen := 0
		te := newTestEnv()
		te.convert.hook = func(point string, _ int64) error {
			if point == args[0] {
				if seen++; seen == k {
					die()
				}
			}
			return nil
		}
		code := run(&te.env, []string{"convert", path})
		t.Fatalf("convert was not killed: exit %d: %s%s", code, te.out.String(), te.errOut.String())
	}
}

// runChild runs TestChild with the arguments and requires that it died
// of SIGKILL.
//
// Tests that fork child processes do not run in parallel (t.Parallel)
// with anything: from fork to exec a child holds copies of all the
// parent's descriptors, and with them their flock locks, so a parallel
// test could find its file "in use" for that moment (it happened).
func runChild(t *testing.T, what, path, arg string, round int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+what, childPath+"="+path, childArg+"="+arg, childRound+"="+strconv.Itoa(round))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "child: %s", out)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child did not die of SIGKILL: %v: %s", err, out)
}

// crashFile writes n pages (round r, a Sync every `every`) to a new file
// at path in mode in a child process that then dies with the file open,
// and returns the content the synced writes promise.
func crashFile(t *testing.T, path string, mode atomicio.Mode, n, r, every int) []byte {
	t.Helper()
	runChild(t, "write", path, fmt.Sprintf("%d,%d,%d", int(mode), n, every), r)
	want := make([]byte, testSize)
	for i := range n {
		p, off := page(i, r), pageOff(i)
		if end := off + int64(len(p)); end > int64(len(want)) {
			want = append(want, make([]byte, end-int64(len(want)))...)
		}
		copy(want[off:], p)
	}
	return want
}

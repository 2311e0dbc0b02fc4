//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// agedTimes sets a file's times far in the past: any write after it sets
// its mtime to now.
func agedTimes(t *testing.T, paths ...string) {
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range paths {
		require.NoError(t, os.Chtimes(p, old, old))
	}
}

// TestInfo: info names each kind of file and its state, with the sizes,
// and writes nothing (times, sizes and data regions of every file are
// unchanged).
func TestInfo(t *testing.T) {
	// Not parallel: it forks (see runChild).
	dir := t.TempDir()
	cowPath := filepath.Join(dir, "c.db")
	makeFile(t, cowPath, atomicio.ModeCOW, 16)
	crashed := filepath.Join(dir, "j.db")
	crashFile(t, crashed, atomicio.ModeJournal, 16, 0, 4)
	plain := filepath.Join(dir, "p.db")
	makeFile(t, plain, atomicio.ModeJournal, 4) // closed: an ordinary file
	empty := filepath.Join(dir, "e.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	files := []string{cowPath, crashed, crashed + "-untorn", plain, empty}
	agedTimes(t, files...)
	before := map[string]fileState{}
	for _, p := range files {
		before[p] = stateOf(t, p)
	}

	code, out, _ := runVerb(t, "info", cowPath, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "COW container")
	require.Contains(t, out, "logical size:   1065960 bytes")
	require.Regexp(t, `live data: +\d+ bytes`, out)
	require.Contains(t, out, "segments:")

	code, out, _ = runVerb(t, "info", crashed, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "journal (journal "+crashed+"-untorn)")
	require.Regexp(t, `state: +4 records waiting to go home`, out)
	require.Contains(t, out, "1065960 bytes (1.0 MiB) after replay")
	require.Contains(t, out, "journal capacity:   1048576 bytes")
	require.Regexp(t, `journal fill: +\d+ bytes \(\d+\.\d KiB\) in 4 records`, out)
	require.Regexp(t, `generation: +1 `, out)

	code, out, _ = runVerb(t, "info", plain, nil)
	require.Equal(t, 0, code)
	mode := "journal mode"
	if nativePick(plain) {
		mode = "native mode"
	}
	require.Contains(t, out, "plain file: no journal, no container; atomicio.Open would open it in "+mode)
	require.Contains(t, out, "logical size: 1049576 bytes") // testSize: page 7 was not written

	code, out, _ = runVerb(t, "info", empty, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "an empty file")

	for _, p := range files {
		require.Equal(t, before[p], stateOf(t, p), "info changed %s", p)
	}
}

// TestInfoInUse: a file open through atomicio is shown as in use (its
// lock refuses the read-only opener), with its sizes; exit 0.
func TestInfoInUse(t *testing.T) {
	t.Parallel()
	for _, mode := range []atomicio.Mode{atomicio.ModeCOW, atomicio.ModeJournal} {
		path := filepath.Join(t.TempDir(), "d.db")
		f, err := atomicio.Open(path, testOpts(mode))
		require.NoError(t, err)
		code, out, _ := runVerb(t, "info", path, nil)
		require.Equal(t, 0, code)
		require.Contains(t, out, "in use: open by another process")
		require.NoError(t, f.Close())
	}
}

// TestBadPaths: a missing path, a directory, a journal without its data
// file and bad command lines exit 2 with a message, for every verb.
func TestBadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	orphan := filepath.Join(dir, "gone.db")
	require.NoError(t, os.WriteFile(atomicio.JournalPath(orphan), []byte("x"), 0o644))
	for _, verb := range []string{"info", "recover", "check", "convert"} {
		for path, want := range map[string]string{
			filepath.Join(dir, "missing"): "no such file",
			dir:                           "not a regular file",
			orphan:                        "a journal without its data file",
		} {
			code, _, errOut := runVerb(t, verb, path, nil)
			require.Equal(t, 2, code, "%s %s", verb, path)
			require.Contains(t, errOut, want, "%s %s", verb, path)
		}
	}
	for _, args := range [][]string{nil, {"info"}, {"frobnicate", dir}, {"info", dir, dir}} {
		te := newTestEnv()
		require.Equal(t, 2, run(&te.env, args), "%q", args)
		require.Contains(t, te.errOut.String(), "usage: untorn <verb> PATH")
	}
	te := newTestEnv()
	require.Equal(t, 0, run(&te.env, []string{"help"}))
	require.Contains(t, te.out.String(), "convert")
}

//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// TestRecoverJournalAfterKill: a process killed with its File open left
// records in the journal and none of them home. recover replays them: the
// data file alone (read with os.ReadFile, no untorn) then holds every
// synced write with the exact size, and the journal is gone. A second
// recover has nothing to do.
func TestRecoverJournalAfterKill(t *testing.T) {
	// Not parallel: it forks (see runChild).
	path := filepath.Join(t.TempDir(), "d.db")
	want := crashFile(t, path, atomicio.ModeJournal, 16, 0, 4)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotEqual(t, want, got, "the test needs data that is not home yet")

	code, out, _ := runVerb(t, "recover", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "replayed 4 records")
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	requireSame(t, want, got, "the data file after recover")
	require.NoFileExists(t, atomicio.JournalPath(path))

	code, out, _ = runVerb(t, "recover", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "nothing to recover")
	_, got = readThrough(t, path)
	requireSame(t, want, got, "read through atomicio")
}

// TestRecoverJournalAfterAbandon: a File synced and abandoned instead of
// closed leaves its journal beside the file; recover removes it and the
// file holds what was synced.
func TestRecoverJournalAfterAbandon(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "d.db")
	f, err := atomicio.Open(path, testOpts(atomicio.ModeJournal))
	require.NoError(t, err)
	want := writeFile(t, f, make([]byte, testSize), 12, 0, 3)
	require.NoError(t, f.Abandon())
	require.FileExists(t, atomicio.JournalPath(path))

	code, _, _ := runVerb(t, "recover", path, nil)
	require.Equal(t, 0, code)
	require.NoFileExists(t, atomicio.JournalPath(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	requireSame(t, want, got, "the data file after recover")
}

// TestRecoverCOWAfterKill: a container whose process was killed after
// Syncs is recovered (its log replayed, a new root written) and holds
// every synced write.
func TestRecoverCOWAfterKill(t *testing.T) {
	// Not parallel: it forks (see runChild).
	path := filepath.Join(t.TempDir(), "d.db")
	want := crashFile(t, path, atomicio.ModeCOW, 16, 0, 4)
	code, out, _ := runVerb(t, "recover", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "COW container recovered")
	require.Contains(t, out, "file size 1065960 bytes")
	mode, got := readThrough(t, path)
	require.Equal(t, atomicio.ModeCOW, mode)
	requireSame(t, want, got, "the container after recover")
}

// TestRecoverRefuses: a plain file has nothing to recover (exit 0,
// unchanged); a file open through atomicio is in use (exit 2, and its
// journal stays); a damaged journal exits 1 and is left as it was.
func TestRecoverRefuses(t *testing.T) {
	// Not parallel: it forks (see runChild).
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("hello"), 0o644))
	code, out, _ := runVerb(t, "recover", plain, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "plain file without a journal: nothing to recover")

	open := filepath.Join(dir, "open.db")
	f, err := atomicio.Open(open, testOpts(atomicio.ModeJournal))
	require.NoError(t, err)
	code, _, errOut := runVerb(t, "recover", open, nil)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "is in use")
	require.FileExists(t, atomicio.JournalPath(open))
	require.NoError(t, f.Close())

	damaged := filepath.Join(dir, "damaged.db")
	crashFile(t, damaged, atomicio.ModeJournal, 16, 0, 4)
	jpath := atomicio.JournalPath(damaged)
	flipBits(t, jpath, findBlock(t, jpath, marker(3, 0, 0)), 100, 3000) // page 3 is in the first of 4 records
	before := []fileState{stateOf(t, damaged), stateOf(t, jpath)}
	code, _, errOut = runVerb(t, "recover", damaged, nil)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "corrupt")
	require.Equal(t, before, []fileState{stateOf(t, damaged), stateOf(t, jpath)}, "recover wrote to a damaged journal")
}

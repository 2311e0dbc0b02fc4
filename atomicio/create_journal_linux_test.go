package atomicio

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// journalCreateOpts creates files in journal mode (small, preallocated).
var journalCreateOpts = Options{Size: 4 << 20, CacheSize: 8 << 20, Preallocate: true, Mode: ModeJournal, JournalSize: 1 << 20}

// journalCreateSteps are the steps of creating a new path in journal mode:
// the file, then its journal, each under a temporary name; the file is
// published first, then the journal.
var journalCreateSteps = []string{"create-temp", "preallocate", "format", "create-journal", "sync-journal",
	"sync-file", "new-file", "publish", "publish-journal", "sync-dir"}

// requirePlainFile checks that path is an ordinary file of size bytes (no
// container), with or without a journal beside it.
func requirePlainFile(t *testing.T, path string, size int64, journal bool) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, size, st.Size(), "the file's length is its size")
	_, err = os.Stat(JournalPath(path))
	if journal {
		require.NoError(t, err, "the journal is there")
	} else {
		require.ErrorIs(t, err, os.ErrNotExist, "no journal")
	}
}

// requireUsableJournal opens path in journal mode, checks want at offset
// 0, writes next, closes (the journal goes) and reads it back.
func requireUsableJournal(t *testing.T, path, want, next string) {
	t.Helper()
	f, err := Open(path, Options{})
	require.NoError(t, err)
	require.Equal(t, ModeJournal, f.Mode())
	require.Equal(t, want, readMarker(t, f))
	writeMarker(t, f, next)
	_, err = Open(path, Options{})
	require.ErrorIs(t, err, ErrLocked, "a second opener is refused")
	require.NoError(t, f.Close())
	requirePlainFile(t, path, journalCreateOpts.Size, false)
	got := make([]byte, 32)
	fd, err := os.Open(path)
	require.NoError(t, err)
	_, err = fd.ReadAt(got, 0)
	require.NoError(t, err)
	require.NoError(t, fd.Close())
	require.Equal(t, marker(next), got, "any program reads the file")
}

// TestCreateJournalSteps: a new file in journal mode goes through every
// step in order; the file is a plain file of Options.Size bytes with its
// journal beside it while open, and alone after Close.
func TestCreateJournalSteps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	var steps []string
	setCreateHook(t, func(s string) error {
		steps = append(steps, s)
		return nil
	})
	f, err := Open(path, journalCreateOpts)
	require.NoError(t, err)
	require.Equal(t, journalCreateSteps, steps)
	require.Empty(t, tempFiles(t, dir))
	requirePlainFile(t, path, journalCreateOpts.Size, true)
	writeMarker(t, f, "first")
	require.NoError(t, f.Close())
	createHook = nil
	requireUsableJournal(t, path, "first", "second")
}

// TestCreateJournalFailureAtEachStep: a failure at any step before the
// file is published leaves nothing (no file, no journal, no temporary
// file); after it, the file without a journal (publish-journal) or with
// it (sync-dir). A later Open works either way.
func TestCreateJournalFailureAtEachStep(t *testing.T) {
	for _, at := range journalCreateSteps {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			openFailingAt(t, path, at, journalCreateOpts)
			switch at {
			case "publish-journal":
				requirePlainFile(t, path, journalCreateOpts.Size, false)
			case "sync-dir":
				requirePlainFile(t, path, journalCreateOpts.Size, true)
			default:
				requireMissing(t, path)
				requireMissing(t, JournalPath(path))
				require.NoError(t, os.WriteFile(path, nil, 0o644)) // an empty file is a missing one
				_ = os.Remove(path)
			}
			f, err := Open(path, journalCreateOpts)
			require.NoError(t, err)
			require.Equal(t, ModeJournal, f.Mode())
			require.NoError(t, f.Close())
			requireUsableJournal(t, path, "", "after")
		})
	}
}

// TestCreateJournalKilledAtEachStep: a process killed at any step of
// creating a new path in journal mode leaves no file, or the file without
// its journal, or both (and perhaps temporary files); a later Open creates
// or opens it, never takes a temporary file for either, and removes the
// leftovers.
func TestCreateJournalKilledAtEachStep(t *testing.T) {
	for _, at := range journalCreateSteps {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			requireKilled(t, child(t, childEnv+"=kill-at", childPath+"="+path, childStep+"="+at, childMode+"=journal").Run())
			switch at {
			case "create-temp":
				requireMissing(t, path)
			case "publish-journal":
				requirePlainFile(t, path, journalCreateOpts.Size, false)
			case "sync-dir":
				requirePlainFile(t, path, journalCreateOpts.Size, true)
			default:
				requireMissing(t, path)
				requireMissing(t, JournalPath(path))
			}
			f, err := Open(path, journalCreateOpts)
			require.NoError(t, err)
			require.Equal(t, ModeJournal, f.Mode())
			require.NoError(t, f.Close())
			require.Empty(t, tempFiles(t, dir), "the stale temporary files are removed")
			requireUsableJournal(t, path, "", fmt.Sprintf("after %s", at))
		})
	}
}

// TestJournalOfExistingFileKilled: a process killed while it gives an
// existing plain file its journal (at each step of that) leaves the file
// as it was, with or without a complete journal; a later Open goes on.
func TestJournalOfExistingFileKilled(t *testing.T) {
	for _, at := range []string{"create-journal", "sync-journal", "publish-journal"} {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			content := make([]byte, journalCreateOpts.Size)
			copy(content, marker("theirs"))
			require.NoError(t, os.WriteFile(path, content, 0o644))
			requireKilled(t, child(t, childEnv+"=kill-at", childPath+"="+path, childStep+"="+at, childMode+"=journal").Run())
			requirePlainFile(t, path, journalCreateOpts.Size, at == "never")
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, content, got, "the file is untouched")
			requireUsableJournal(t, path, "theirs", "ours")
			require.Empty(t, tempFiles(t, dir), "the stale temporary journal is removed")
		})
	}
}

// TestJournalWithoutItsFile: a journal whose file is gone is not taken
// for a new file's: Open refuses (the journal holds the last writes of a
// deleted file) instead of creating a file beside it.
func TestJournalWithoutItsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	f, err := Open(path, journalCreateOpts)
	require.NoError(t, err)
	writeMarker(t, f, "x")
	require.NoError(t, f.Abandon()) // a crash: the journal stays
	require.NoError(t, os.Remove(path))
	_, err = Open(path, Options{})
	require.ErrorIs(t, err, ErrInvalid)
	requireMissing(t, path)
}

// TestAbandonWritesNothingInJournalMode: Abandon after a Sync leaves the
// data file as it was and the synced data in the journal, which the next
// Open replays.
func TestAbandonWritesNothingInJournalMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	opts := journalCreateOpts
	opts.FlushInterval = -1 // no background checkpoint either
	f, err := Open(path, opts)
	require.NoError(t, err)
	writeMarker(t, f, "synced")
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, f.Abandon())
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "Abandon wrote nothing to the data file")
	requirePlainFile(t, path, journalCreateOpts.Size, true)
	requireUsableJournal(t, path, "synced", "next")
}

// TestJournalKeepsAnEmptyFileInPlace: an existing empty file opened in
// journal mode stays the same file (its inode), given Options.Size bytes
// and a journal, instead of being replaced by a new one: another holder of
// the empty file sees the one file (found from the SQLite VFS: a stock
// connection that had created the empty database was stranded on the
// replaced inode).
func TestJournalKeepsAnEmptyFileInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	before := inode(t, path)
	f, err := Open(path, journalCreateOpts)
	require.NoError(t, err)
	require.Equal(t, ModeJournal, f.Mode())
	require.Equal(t, before, inode(t, path), "the empty file is the data file")
	require.EqualValues(t, journalCreateOpts.Size, f.Size())
	writeMarker(t, f, "in place")
	require.NoError(t, f.Close())
	require.Equal(t, before, inode(t, path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	requireUsableJournal(t, path, "in place", "again")
}

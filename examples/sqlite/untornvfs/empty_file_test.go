package untornvfs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// TestJournalModeKeepsAnEmptyFile, a regression test of a library bug
// found from this package and fixed (atomicio keeps an empty file in place
// in journal mode now): atomicio.Open in journal mode kept a
// non-empty plain file where it is (a journal beside it), but replaced an
// existing empty file with a new one (open.go, openOnce: an empty regular
// file counts as missing; create.go, replaceEmpty: a new file renamed over
// it). A journal-mode data file needs no formatting, and the replacement
// strands every other holder of the empty file: a stock SQLite connection
// that had it open (SQLite creates an empty file on open) keeps reading an
// empty database forever instead of getting SQLITE_BUSY, and, finding
// the VFS's rollback journal beside an empty database, deletes it as a
// leftover (pager.c, hasHotJournal), which fails the VFS's transaction
// (a disk I/O error seen while writing this package's tests) and would
// leave a big transaction unprotected against a power cut.
func TestJournalModeKeepsAnEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	before := fileID(t, path)
	f, err := atomicio.Open(path, atomicio.Options{Mode: atomicio.ModeJournal})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.True(t, os.SameFile(before, fileID(t, path)), "journal mode replaced the empty file with a new inode")
}

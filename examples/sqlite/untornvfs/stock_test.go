package untornvfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// openBankAt opens the bank at path through the VFS named vfsName (""
// for SQLite's stock VFS) in the bank's modes (see openBank).
func openBankAt(t testing.TB, vfsName, path string) (*sqlite3.Conn, error) {
	uri := "file:" + path
	if vfsName != "" {
		uri += "?vfs=" + vfsName
	}
	db, err := sqlite3.Open(uri)
	if err != nil {
		return nil, err
	}
	if err := db.Exec(fmt.Sprintf("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA cache_size=%d", bankCache)); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// runBank runs transactions from to to (inclusive) of k on db.
func runBank(t testing.TB, db *sqlite3.Conn, k bank, from, to int) {
	for i := from; i <= to; i++ {
		require.NoError(t, db.Exec(k.txSQL(i)), "transaction %d", i)
	}
}

// checkBank checks, through the VFS named vfsName ("" for the stock VFS),
// that the database at path passes PRAGMA integrity_check and holds
// exactly the first h transactions of k, and that it is a plain SQLite
// file of exactly page_count pages.
func checkBank(t testing.TB, vfsName, path string, k bank, h int) error {
	db, err := openBankAt(t, vfsName, path)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	integrity, err := queryStrings(db, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(integrity) != 1 || integrity[0] != "ok" {
		return fmt.Errorf("integrity_check: %v", integrity)
	}
	got, n, err := readBank(db)
	if err != nil {
		return err
	}
	if n != h {
		return fmt.Errorf("holds %d transactions, want %d", n, h)
	}
	if err := k.expected(h).compare(got); err != nil {
		return err
	}
	if vfsName != "" {
		return nil
	}
	size, err := queryInts(db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != size[0] {
		return fmt.Errorf("file of %d bytes, the database has %d", st.Size(), size[0])
	}
	return nil
}

// writeThroughVFS writes transactions 1 to txs of k (every kind: batches,
// big transactions through SQLite's journal, schema changes, then a
// VACUUM that shrinks the file) through v at path and closes every
// connection; it returns the File's mode while it was open.
func writeThroughVFS(t *testing.T, v *VFS, path string, k bank, txs int) atomicio.Mode {
	name := register(t, v)
	db, err := openBankAt(t, name, path)
	require.NoError(t, err)
	other, err := openBankAt(t, name, path) // a second connection, idle
	require.NoError(t, err)
	runBank(t, db, k, 1, txs)
	require.NoError(t, db.Exec("VACUUM"))
	mode := v.fileStats().Mode
	require.NoError(t, other.Close())
	require.NoError(t, db.Close())
	require.Empty(t, v.dbs, "the last close closes the File")
	return mode
}

// TestStockSQLiteReadsWhatTheVFSWrote: a database written through the VFS
// with its defaults (journal mode) and closed is an ordinary SQLite file:
// SQLite's stock VFS opens it, PRAGMA integrity_check says ok, it holds
// every transaction, it is exactly page_count pages long, and neither the
// VFS's journal nor SQLite's is left beside it. The stock VFS then writes
// more, and the VFS reads that back.
func TestStockSQLiteReadsWhatTheVFSWrote(t *testing.T) {
	k := bank{seed: 5}
	path := filepath.Join(t.TempDir(), "app.db")
	v := &VFS{}
	require.Equal(t, atomicio.ModeJournal, writeThroughVFS(t, v, path, k, 60))
	s := v.Stats()
	require.Greater(t, s.Batches, int64(50), "small transactions commit as batches (journal records)")
	require.GreaterOrEqual(t, s.AuxOpens, int64(2), "big transactions take SQLite's journal")

	for _, gone := range []string{atomicio.JournalPath(path), path + "-journal"} {
		_, err := os.Stat(gone)
		require.ErrorIs(t, err, os.ErrNotExist, "%s is left after Close", gone)
	}
	head := make([]byte, len(sqliteMagic))
	f, err := os.Open(path)
	require.NoError(t, err)
	_, err = f.Read(head)
	require.NoError(t, errors.Join(err, f.Close()))
	require.Equal(t, sqliteMagic, head)
	require.NoError(t, checkBank(t, "", path, k, 60), "through the stock VFS")

	stock, err := openBankAt(t, "", path)
	require.NoError(t, err)
	runBank(t, stock, k, 61, 80)
	require.NoError(t, stock.Close())
	require.NoError(t, checkBank(t, register(t, &VFS{}), path, k, 80), "the stock VFS's writes, through the VFS")
}

// TestStockSQLiteCannotReadACOWDatabase is the control of the test above:
// in COW mode the file is a container, and the same check through the
// stock VFS fails (SQLITE_NOTADB).
func TestStockSQLiteCannotReadACOWDatabase(t *testing.T) {
	k := bank{seed: 5}
	path := filepath.Join(t.TempDir(), "cow.db")
	require.Equal(t, atomicio.ModeCOW, writeThroughVFS(t, &VFS{Options: atomicio.Options{Mode: atomicio.ModeCOW}}, path, k, 20))
	err := checkBank(t, "", path, k, 20)
	require.Error(t, err, "the stock check cannot tell a container from an SQLite file")
	require.ErrorIs(t, err, sqlite3.NOTADB, "got %v", err)
	// The VFS still opens a container it made (ModeAuto: COW for a
	// container).
	require.NoError(t, checkBank(t, register(t, &VFS{}), path, k, 20))
}

// TestVFSOpensAStockDatabase: a database that SQLite's stock VFS created
// opens through the VFS in journal mode over the existing file (same
// inode: nothing is converted), with all its data; the VFS's writes are
// then batches, and after Close the stock VFS reads everything.
func TestVFSOpensAStockDatabase(t *testing.T) {
	k := bank{seed: 9}
	path := filepath.Join(t.TempDir(), "stock.db")
	stock, err := openBankAt(t, "", path)
	require.NoError(t, err)
	runBank(t, stock, k, 1, 30)
	require.NoError(t, stock.Close())
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	ino := fileID(t, path)

	v := &VFS{}
	name := register(t, v)
	require.NoError(t, checkBank(t, name, path, k, 30), "the stock database through the VFS")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(before, after), "reading through the VFS changed the file")

	db, err := openBankAt(t, name, path)
	require.NoError(t, err)
	require.Equal(t, atomicio.ModeJournal, v.fileStats().Mode)
	b0 := v.Stats().Batches
	runBank(t, db, k, 31, 50)
	require.Greater(t, v.Stats().Batches-b0, int64(15), "the VFS's transactions are batches")
	require.NoError(t, db.Close())
	require.True(t, os.SameFile(ino, fileID(t, path)), "the VFS kept the stock file in place")
	require.NoError(t, checkBank(t, "", path, k, 50), "through the stock VFS again")
}

// fileID returns what identifies the file at path (device and inode,
// compared with os.SameFile).
func fileID(t testing.TB, path string) os.FileInfo {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st
}

package untornvfs

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/stretchr/testify/require"
)

var vfsSeq atomic.Int64

// register registers v under a name of its own and returns the name; the
// registration is removed when the test ends.
func register(t testing.TB, v *VFS) string {
	name, unregister := registerNow(v)
	t.Cleanup(unregister)
	return name
}

// registerNow registers v under a name of its own and returns the name and
// the function that removes it.
func registerNow(v *VFS) (string, func()) {
	name := fmt.Sprintf("untorn-test-%d", vfsSeq.Add(1))
	vfs.Register(name, v)
	return name, func() { vfs.Unregister(name) }
}

// openDB opens a connection to path through the VFS named vfsName with
// synchronous=FULL and journal_mode=DELETE, closed when the test ends.
func openDB(t testing.TB, vfsName, path string) *sqlite3.Conn {
	db, err := sqlite3.Open(fmt.Sprintf("file:%s?vfs=%s", path, vfsName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL"))
	return db
}

// queryInt runs a query returning one integer.
func queryInt(t testing.TB, db *sqlite3.Conn, sql string) int64 {
	st, _, err := db.Prepare(sql)
	require.NoError(t, err)
	defer st.Close()
	require.True(t, st.Step(), "%s: no row (%v)", sql, st.Err())
	v := st.ColumnInt64(0)
	require.NoError(t, st.Err())
	return v
}

func TestTransactionsUseBatches(t *testing.T) {
	v := &VFS{}
	name := register(t, v)
	path := filepath.Join(t.TempDir(), "app.db")
	db := openDB(t, name, path)

	require.NoError(t, db.Exec("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)"))
	before := v.Stats()
	for i := range 100 {
		require.NoError(t, db.Exec(fmt.Sprintf("INSERT INTO kv VALUES(%d, 'value %d')", i, i)))
	}
	after := v.Stats()
	require.EqualValues(t, 100, after.Batches-before.Batches, "every small transaction is one batch")
	require.Zero(t, after.AuxOpens-before.AuxOpens, "no journal is opened on the batch path")
	require.EqualValues(t, 100, queryInt(t, db, "SELECT count(*) FROM kv"))
	require.NoError(t, db.Close())

	// A reopen (new File, recovery) reads every row; the integrity check passes.
	db = openDB(t, name, path)
	require.EqualValues(t, 100, queryInt(t, db, "SELECT count(*) FROM kv"))
	requireIntegrity(t, db)
}

// requireIntegrity runs PRAGMA integrity_check and requires "ok".
func requireIntegrity(t testing.TB, db *sqlite3.Conn) {
	st, _, err := db.Prepare("PRAGMA integrity_check")
	require.NoError(t, err)
	defer st.Close()
	require.True(t, st.Step(), "integrity_check: %v", st.Err())
	require.Equal(t, "ok", st.ColumnText(0))
}

// TestReadOnlyConnection: a connection opened read-only reads the database
// and cannot write it, while a read-write one beside it can.
func TestReadOnlyConnection(t *testing.T) {
	name := register(t, &VFS{})
	path := filepath.Join(t.TempDir(), "ro.db")
	rw := openDB(t, name, path)
	require.NoError(t, rw.Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)"))

	ro, err := sqlite3.OpenFlags(fmt.Sprintf("file:%s?vfs=%s", path, name), sqlite3.OPEN_READONLY|sqlite3.OPEN_URI)
	require.NoError(t, err)
	defer ro.Close()
	require.EqualValues(t, 1, queryInt(t, ro, "SELECT count(*) FROM t"))
	err = ro.Exec("INSERT INTO t VALUES(2)")
	require.ErrorIs(t, err, sqlite3.READONLY, "got %v", err)
	require.NoError(t, rw.Exec("INSERT INTO t VALUES(3)"))
	require.EqualValues(t, 2, queryInt(t, ro, "SELECT count(*) FROM t"))
}

// TestWALModeStaysRollback: without shared memory SQLite keeps the
// database in its rollback journal mode when asked for WAL (doc.go,
// Limits), and the batches go on.
func TestWALModeStaysRollback(t *testing.T) {
	v := &VFS{}
	db := openDB(t, register(t, v), filepath.Join(t.TempDir(), "wal.db"))
	require.NoError(t, db.Exec("CREATE TABLE t(x)"))
	st, _, err := db.Prepare("PRAGMA journal_mode=WAL")
	require.NoError(t, err)
	require.True(t, st.Step())
	require.Equal(t, "delete", st.ColumnText(0))
	require.NoError(t, st.Close())
	before := v.Stats().Batches
	require.NoError(t, db.Exec("INSERT INTO t VALUES(1)"))
	require.Equal(t, before+1, v.Stats().Batches)
}

// flushers counts the goroutines running a writeback engine's flusher (an
// open File runs one).
func flushers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("writeback.(*Engine).flusher")) {
			count++
		}
	}
	return count
}

// TestNoGoroutineLeak: once every connection is closed, the File is
// closed and its goroutines are gone. (That the File runs one is asked of
// the stacks: the goroutine count alone also falls when goroutines of an
// earlier test end meanwhile.)
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	v := &VFS{}
	name, unregister := registerNow(v)
	defer unregister()
	path := filepath.Join(t.TempDir(), "leak.db")
	var conns []*sqlite3.Conn
	for range 3 {
		db, err := sqlite3.Open(fmt.Sprintf("file:%s?vfs=%s", path, name))
		require.NoError(t, err)
		conns = append(conns, db)
	}
	require.NoError(t, conns[0].Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)"))
	require.Positive(t, flushers(), "an open File runs its writeback")
	for _, db := range conns {
		require.NoError(t, db.Close())
	}
	require.Empty(t, v.dbs, "the last close closes the File")
	// A plain loop: require.Eventually runs its condition on goroutines of
	// its own.
	deadline := time.Now().Add(5 * time.Second)
	for (runtime.NumGoroutine() > before || flushers() > 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after the last Close")
	require.Zero(t, flushers(), "a writeback flusher left after the last Close")
}

package untornvfs

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

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

package untornvfs

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/internal/xfstest"
)

// TestOnRealXFS runs the VFS over real files on XFS with reflink (loop
// mounted, RWF_ATOMIC available): in journal mode (the default) and COW
// mode transactions commit as batches, and in journal mode the file is an
// SQLite database for the stock VFS after Close; in native mode (RWF_ATOMIC in place) the VFS does not claim
// IOCAP_BATCH_ATOMIC, SQLite uses its journal, and every page write is
// untorn. Both read back what they wrote after a reopen. Skipped where no
// XFS can be mounted, failed instead under UNTORN_REQUIRE_XFS=1 (CI).
func TestOnRealXFS(t *testing.T) {
	dir := xfstest.Mount(t)
	if dir == "" {
		return
	}
	for _, mode := range []atomicio.Mode{atomicio.ModeJournal, atomicio.ModeCOW, atomicio.ModeNative} {
		t.Run(mode.String(), func(t *testing.T) {
			v := &VFS{Options: atomicio.Options{Mode: mode, CacheSize: 16 << 20}}
			name, unregister := registerNow(v)
			defer unregister()
			path := filepath.Join(dir, fmt.Sprintf("%v.db", mode))
			db := openDB(t, name, path)
			require.NoError(t, db.Exec("CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB)"))
			before := v.Stats()
			for i := range 50 {
				require.NoError(t, db.Exec(fmt.Sprintf("INSERT INTO kv VALUES(%d, randomblob(3000))", i)))
			}
			after := v.Stats()

			v.mu.Lock()
			f := v.dbs[path].file
			v.mu.Unlock()
			require.Equal(t, mode, f.Mode())
			c := &conn{db: &database{file: f}}
			if mode != atomicio.ModeNative {
				require.NotZero(t, c.DeviceCharacteristics()&vfs.IOCAP_BATCH_ATOMIC)
				require.EqualValues(t, 50, after.Batches-before.Batches)
				require.Zero(t, after.AuxOpens-before.AuxOpens)
			} else {
				require.Zero(t, c.DeviceCharacteristics()&vfs.IOCAP_BATCH_ATOMIC)
				require.Zero(t, after.Batches-before.Batches)
				require.GreaterOrEqual(t, after.AuxOpens-before.AuxOpens, int64(50), "each transaction opens its journal")
			}
			require.NoError(t, db.Close())

			db = openDB(t, name, path)
			require.EqualValues(t, 50, queryInt(t, db, "SELECT count(*) FROM kv"))
			requireIntegrity(t, db)
			if mode == atomicio.ModeJournal {
				require.NoError(t, db.Close())
				stock := openDB(t, "os", path)
				require.EqualValues(t, 50, queryInt(t, stock, "SELECT count(*) FROM kv"), "through the stock VFS")
				requireIntegrity(t, stock)
			}
		})
	}
}

package untornvfs

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev/cow"
)

// BenchmarkBankCommit times one bank transaction (two UPDATEs and an
// INSERT, synchronous=FULL) through the untorn VFS and through the stock
// VFS in WAL mode, on the file system of the test's temporary directory.
func BenchmarkBankCommit(b *testing.B) {
	for _, mode := range []string{"untorn", "wal-full"} {
		b.Run(mode, func(b *testing.B) {
			uri := "file:" + filepath.Join(b.TempDir(), "bank.db")
			var v *VFS
			if mode == "untorn" {
				v = &VFS{}
				uri += "?vfs=" + register(b, v)
			}
			db, err := sqlite3.Open(uri)
			require.NoError(b, err)
			defer db.Close()
			jm := "DELETE"
			if mode == "wal-full" {
				jm = "WAL"
			}
			require.NoError(b, db.Exec(fmt.Sprintf("PRAGMA journal_mode=%s; PRAGMA synchronous=FULL", jm)))
			require.NoError(b, db.Exec(`CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER);
				CREATE TABLE history(src INTEGER, dst INTEGER, amt INTEGER, memo BLOB);
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<10000) INSERT INTO acct SELECT i, 1000 FROM n`))
			rng := rand.New(rand.NewPCG(1, 1))
			var before cow.Stats
			if v != nil {
				before = v.fileStats().COW
			}
			b.ResetTimer()
			for b.Loop() {
				src, dst := 1+rng.IntN(10000), 1+rng.IntN(10000)
				require.NoError(b, db.Exec(fmt.Sprintf(
					"BEGIN; UPDATE acct SET bal=bal-1 WHERE id=%d; UPDATE acct SET bal=bal+1 WHERE id=%d; INSERT INTO history VALUES(%d,%d,1,randomblob(100)); COMMIT",
					src, dst, src, dst)))
			}
			if v != nil {
				st := v.fileStats().COW
				n := float64(b.N)
				b.ReportMetric(float64(st.Flushes-before.Flushes)/n, "flushes/op")
				b.ReportMetric(float64(st.Records-before.Records)/n, "records/op")
				b.ReportMetric(float64(st.Checkpoints-before.Checkpoints)/n, "ckpts/op")
				b.ReportMetric(float64(st.Fills-before.Fills)/n, "fills/op")
			}
		})
	}
}

// fileStats returns the Stats of the one database open through v.
func (v *VFS) fileStats() atomicio.Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, db := range v.dbs {
		return db.file.Stats()
	}
	return atomicio.Stats{}
}

package untornvfs

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// BenchmarkBankCommit times one bank transaction (two UPDATEs and an
// INSERT, synchronous=FULL) through the untorn VFS (journal mode, the
// default, and COW mode) and through the stock VFS in WAL mode, on the
// file system of the test's temporary directory.
func BenchmarkBankCommit(b *testing.B) {
	for _, mode := range []string{"untorn", "untorn-cow", "wal-full"} {
		b.Run(mode, func(b *testing.B) {
			uri := "file:" + filepath.Join(b.TempDir(), "bank.db")
			var v *VFS
			switch mode {
			case "untorn":
				v = &VFS{}
			case "untorn-cow":
				v = &VFS{Options: atomicio.Options{Mode: atomicio.ModeCOW}}
			}
			if v != nil {
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
			var before atomicio.Stats
			if v != nil {
				before = v.fileStats()
			}
			b.ResetTimer()
			for b.Loop() {
				src, dst := 1+rng.IntN(10000), 1+rng.IntN(10000)
				require.NoError(b, db.Exec(fmt.Sprintf(
					"BEGIN; UPDATE acct SET bal=bal-1 WHERE id=%d; UPDATE acct SET bal=bal+1 WHERE id=%d; INSERT INTO history VALUES(%d,%d,1,randomblob(100)); COMMIT",
					src, dst, src, dst)))
			}
			if v == nil {
				return
			}
			n := float64(b.N)
			switch after := v.fileStats(); after.Mode {
			case atomicio.ModeCOW:
				st, was := after.COW, before.COW
				b.ReportMetric(float64(st.Flushes-was.Flushes)/n, "flushes/op")
				b.ReportMetric(float64(st.Records-was.Records)/n, "records/op")
				b.ReportMetric(float64(st.Checkpoints-was.Checkpoints)/n, "ckpts/op")
				b.ReportMetric(float64(st.Fills-was.Fills)/n, "fills/op")
			case atomicio.ModeJournal:
				st, was := after.Journal, before.Journal
				b.ReportMetric(float64(st.Flushes-was.Flushes)/n, "flushes/op")
				b.ReportMetric(float64(st.Records-was.Records)/n, "records/op")
				b.ReportMetric(float64(st.Checkpoints-was.Checkpoints)/n, "ckpts/op")
				b.ReportMetric(float64(st.HomeWrites-was.HomeWrites)/n, "homewrites/op")
				// Where a commit's time goes: writing the record, the
				// journal's flush; and the background checkpoints' time
				// (home writes and the data file's flush among it), per
				// transaction.
				us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
				b.ReportMetric(us(st.CommitTime-was.CommitTime), "record-us/op")
				b.ReportMetric(us(st.FlushTime-was.FlushTime), "flush-us/op")
				b.ReportMetric(us(st.CheckpointTime-was.CheckpointTime), "ckpt-us/op")
				b.ReportMetric(us(st.HomeTime-was.HomeTime), "home-us/op")
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

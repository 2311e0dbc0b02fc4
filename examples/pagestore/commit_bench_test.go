package pagestore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// BenchmarkCommitOnFile times a commit of 8 changed keys (Puts, then Sync)
// on a COW file in a temporary directory: with one batch and one File
// Sync, and with the two-Sync shadow-paging path it replaces.
func BenchmarkCommitOnFile(b *testing.B) {
	for _, shadow := range []bool{false, true} {
		name := "batch"
		if shadow {
			name = "shadow"
		}
		b.Run(name, func(b *testing.B) {
			f, err := atomicio.Open(filepath.Join(b.TempDir(), "store"), atomicio.Options{CacheSize: 16 << 20})
			require.NoError(b, err)
			s, err := Open(f, Options{Buckets: 64, shadowOnly: shadow})
			require.NoError(b, err)
			defer func() { _ = s.Close() }()
			v := make([]byte, 200)
			for i := 0; b.Loop(); i++ {
				for k := range 8 {
					require.NoError(b, s.Put(fmt.Appendf(nil, "k%d", (i*8+k)%4096), v))
				}
				require.NoError(b, s.Sync())
			}
			st := s.Stats()
			b.ReportMetric(float64(st.BatchCommits)/float64(b.N), "batches/op")
			b.ReportMetric(float64(f.Stats().COW.Flushes)/float64(b.N), "flushes/op")
		})
	}
}

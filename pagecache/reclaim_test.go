package pagecache

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// readThrough reads [off, off+len(p)) like a file would: hits from the cache, misses
// from the device (here: the pattern), which it then caches with Fill.
func readThrough(t testing.TB, c *Cache, p []byte, off int64) {
	for k := 0; k < len(p); {
		n, gap, err := c.Read(p[k:], off+int64(k))
		require.NoError(t, err)
		k += n
		if k == len(p) {
			return
		}
		dev := pattern(int(gap.Len), byte(gap.Off>>pageShift))
		if err := c.Fill(gap.Off, dev); err != nil {
			require.ErrorIs(t, err, ErrNoMemory)
		}
		k += copy(p[k:], dev[off+int64(k)-gap.Off:])
	}
}

// One sequential pass over 10x the cache must not evict a hot set that fits in half of it.
func TestScanResistance(t *testing.T) {
	const (
		budget   = 4 << 20
		hotPages = budget / 2 / PageSize * 8 / 10 // 40% of the cache
		scanBase = int64(1) << 30
		scanLen  = 10 * budget
	)
	c := newTestCache(t, Config{Budget: budget})
	p := make([]byte, PageSize)
	touchHot := func() {
		for i := int64(0); i < hotPages; i++ {
			readThrough(t, c, p, i*PageSize)
		}
	}
	for range 3 {
		touchHot()
	}
	for off := int64(0); off < scanLen; off += PageSize {
		readThrough(t, c, p, scanBase+off)
		if off%(256*PageSize) == 0 {
			touchHot()
		}
		require.LessOrEqual(t, c.Used(), int64(budget))
	}
	cached := 0
	for i := int64(0); i < hotPages; i++ {
		if _, ok := c.Lookup(i * PageSize); ok {
			cached++
		}
	}
	t.Logf("hot folios still cached after a %d MiB scan: %d/%d (%.1f%%)",
		scanLen>>20, cached, hotPages, 100*float64(cached)/hotPages)
	require.GreaterOrEqual(t, cached*10, hotPages*9)
}

// A folio seen again soon after eviction from the small queue goes to the main one.
func TestGhostAdmitsToMain(t *testing.T) {
	c := newTestCache(t, Config{Budget: 64 << 10})
	p := make([]byte, PageSize)
	for off := int64(0); off < 24*PageSize; off += PageSize {
		readThrough(t, c, p, off)
	}
	_, ok := c.Lookup(0)
	require.False(t, ok, "page 0 evicted by the scan")
	readThrough(t, c, p, 0)
	c.pool.memMu.Lock()
	id := c.mustLookup(0)
	queue := c.folios[id].queue
	c.pool.memMu.Unlock()
	require.Equal(t, queueMain, queue)
}

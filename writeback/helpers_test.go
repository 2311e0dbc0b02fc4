package writeback

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/pagecache"
)

// startEngine starts an Engine with cfg over a new cache of budget bytes,
// with no flush timer. The engine, then the cache, close when the test
// ends, before whatever the test registered for cleanup earlier (the
// device it closes itself, a Scratch).
func startEngine(t *testing.T, cfg Config, budget int64) *Engine {
	t.Helper()
	cache, err := pagecache.New(pagecache.Config{Budget: budget})
	require.NoError(t, err)
	cfg.Cache, cfg.FlushInterval = cache, -1
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, e.Close())
		require.NoError(t, cache.Close())
	})
	return e
}

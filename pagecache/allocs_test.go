//go:build !race

package pagecache

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// Hot paths do not allocate. (Not under -race: its sync.Pool drops items on purpose.)
func TestHotPathsDoNotAllocate(t *testing.T) {
	c := newTestCache(t, Config{Budget: 4 << 20})
	ctx := context.Background()
	p := make([]byte, 16<<10)
	_, err := c.Write(ctx, p, 64<<10, nil)
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if n, _, err := c.Read(p, 64<<10); err != nil || n != len(p) {
			t.Fatalf("read %d, %v", n, err)
		}
	}), "hit read")
	require.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := c.Write(ctx, p, 64<<10, nil); err != nil {
			t.Fatal(err)
		}
	}), "write into a cached folio")
}

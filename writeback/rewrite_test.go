package writeback

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// gatedDevice records every write and, while armed, holds the first write
// it sees until released: a pass stopped in the middle of its I/O.
type gatedDevice struct {
	blockdev.Device
	mu      sync.Mutex // guards armed and writes
	armed   bool
	entered chan struct{}
	release chan struct{}
	writes  []recordedWrite
}

type recordedWrite struct {
	off, n int64
	flags  blockdev.Flags
}

func (d *gatedDevice) WriteAt(p []byte, off int64, flags blockdev.Flags) (int, error) {
	d.mu.Lock()
	d.writes = append(d.writes, recordedWrite{off: off, n: int64(len(p)), flags: flags})
	hold := d.armed
	d.armed = false
	d.mu.Unlock()
	if hold {
		close(d.entered)
		<-d.release
	}
	return d.Device.WriteAt(p, off, flags)
}

// TestRewriteDuringPassStaysDirty: a unit that a pass has snapshotted and
// is writing, rewritten meanwhile, must stay dirty after that pass and go
// out again, whole, with the new data. This is what a unit's generation is
// for; the engine skips giving a rewritten unit a new generation only
// while no pass has it in its snapshot.
func TestRewriteDuringPassStaysDirty(t *testing.T) {
	mem, err := blockdev.NewMem(1<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	dev := &gatedDevice{Device: mem, entered: make(chan struct{}), release: make(chan struct{})}
	e := startEngine(t, Config{Device: dev}, 1<<20)

	const page = 16 << 10
	ctx := context.Background()
	a, b := bytes.Repeat([]byte{'a'}, page), bytes.Repeat([]byte{'b'}, page)
	require.NoError(t, e.Write(ctx, a, 0, true))
	// Rewrites before any pass need no new generation; the pass takes the
	// latest data anyway.
	require.NoError(t, e.Write(ctx, a, 0, true))

	dev.mu.Lock()
	dev.armed = true
	dev.mu.Unlock()
	synced := make(chan error, 1)
	go func() { synced <- e.Sync() }()
	<-dev.entered // the pass has its snapshot and is writing a
	require.NoError(t, e.Write(ctx, b[:4096], 0, true))
	require.NoError(t, e.Write(ctx, b, 0, true))
	close(dev.release)
	require.NoError(t, <-synced)

	e.mu.Lock()
	u, dirty := e.ranges.Get(0)
	e.mu.Unlock()
	require.True(t, dirty, "the rewritten unit must stay dirty after the pass that wrote its old data")
	require.Equal(t, [2]int64{0, page}, [2]int64{u.Off, u.End})

	dev.mu.Lock()
	before := len(dev.writes)
	dev.mu.Unlock()
	require.NoError(t, e.Sync())
	dev.mu.Lock()
	after := dev.writes[before:]
	dev.mu.Unlock()
	require.Contains(t, after, recordedWrite{off: 0, n: page, flags: blockdev.Atomic}, "the new data goes out as one untorn unit")
	got := make([]byte, page)
	_, err = mem.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, b, got)
	e.mu.Lock()
	_, dirty = e.ranges.Get(0)
	e.mu.Unlock()
	require.False(t, dirty)
}

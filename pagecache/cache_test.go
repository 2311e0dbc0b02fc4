package pagecache

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

func readAll(t *testing.T, c *Cache, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, gap, err := c.Read(p, off)
	require.NoError(t, err)
	require.Equal(t, n, got, "miss at gap %+v", gap)
	return p
}

func TestWriteRead(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20})
	p := pattern(10000, 1)
	n, err := c.Write(context.Background(), p, 1000, nil)
	require.NoError(t, err)
	require.Equal(t, len(p), n)
	require.Equal(t, p, readAll(t, c, 1000, len(p)))
	// The bytes around the write were zero-filled (nil FillFunc).
	require.Equal(t, make([]byte, 1000), readAll(t, c, 0, 1000))
	require.Equal(t, int64(3*PageSize), c.DirtyBytes())

	buf := make([]byte, 100)
	n, gap, err := c.Read(buf, 3*PageSize-50)
	require.NoError(t, err)
	require.Equal(t, 50, n)
	require.Equal(t, Extent{Off: 3 * PageSize, Len: PageSize}, gap)
}

func TestPartialWriteFillsOldBytes(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20})
	old := pattern(2*PageSize, 9)
	var calls []int64
	fill := func(off int64, buf []byte) error {
		calls = append(calls, off)
		copy(buf, old[off:])
		return nil
	}
	_, err := c.Write(context.Background(), []byte("hello"), PageSize+10, fill)
	require.NoError(t, err)
	require.Equal(t, []int64{PageSize}, calls)
	want := bytes.Clone(old[PageSize:])
	copy(want[10:], "hello")
	require.Equal(t, want, readAll(t, c, PageSize, PageSize))

	// A failing fill leaves nothing behind.
	_, err = c.Write(context.Background(), []byte("x"), 5*PageSize, func(int64, []byte) error { return errDevice })
	require.ErrorIs(t, err, errDevice)
	_, ok := c.Lookup(5 * PageSize)
	require.False(t, ok)
}

func TestAlignedWriteIsOneFolio(t *testing.T) {
	c := newTestCache(t, Config{Budget: 4 << 20})
	for _, size := range []int{PageSize, 16 << 10, 64 << 10, MaxFolioSize} {
		off := int64(size) * 3
		_, err := c.Write(context.Background(), pattern(size, 1), off, nil)
		require.NoError(t, err)
		ref, ok := c.Lookup(off + int64(size) - 1)
		require.True(t, ok)
		require.Equal(t, FolioRef{Off: off, Size: size, Gen: ref.Gen, Uptodate: true, Dirty: true}, ref)
		wb, err := c.StartWriteback(off)
		require.NoError(t, err)
		require.Len(t, wb.Data, size)
		require.Zero(t, uintptrOf(wb.Data)%PageSize, "O_DIRECT alignment")
		require.NoError(t, c.EndWriteback(wb, nil))
	}
	// Unaligned ranges use the largest aligned folios that fit; existing folios are reused.
	_, err := c.Write(context.Background(), pattern(24<<10, 2), 8<<20+8<<10, nil)
	require.NoError(t, err)
	var sizes []int
	c.AscendDirty(8<<20, 9<<20, func(r FolioRef) bool { sizes = append(sizes, r.Size); return true })
	require.Equal(t, []int{8 << 10, 16 << 10}, sizes)
}

func TestGenerationAndWritebackStates(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20})
	ctx := context.Background()
	_, err := c.Write(ctx, pattern(PageSize, 1), 0, nil)
	require.NoError(t, err)
	r1, _ := c.Lookup(0)
	_, err = c.Write(ctx, pattern(10, 2), 0, nil)
	require.NoError(t, err)
	r2, _ := c.Lookup(0)
	require.NotEqual(t, r1.Gen, r2.Gen)

	_, err = c.StartWriteback(8 * PageSize)
	require.ErrorIs(t, err, ErrNotDirty)
	wb, err := c.StartWriteback(0)
	require.NoError(t, err)
	_, err = c.StartWriteback(0)
	require.ErrorIs(t, err, ErrBusy)
	require.NoError(t, c.EndWriteback(wb, errDevice))
	ref, _ := c.Lookup(0)
	require.True(t, ref.Dirty, "a failed writeback keeps the folio dirty")
	require.False(t, ref.Writeback)

	wb, err = c.StartWriteback(0)
	require.NoError(t, err)
	require.NoError(t, c.EndWriteback(wb, nil))
	ref, _ = c.Lookup(0)
	require.False(t, ref.Dirty)
	require.Zero(t, c.DirtyBytes())
	require.ErrorIs(t, c.EndWriteback(wb, nil), ErrInvalid)
	require.ErrorIs(t, c.EndWriteback(Writeback{}, nil), ErrInvalid)
}

func TestReserveBlocksWriteback(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20})
	ctx := context.Background()
	_, err := c.Write(ctx, pattern(PageSize, 1), 0, nil)
	require.NoError(t, err)
	r, err := c.Reserve(ctx, 100, 10, nil)
	require.NoError(t, err)
	_, err = c.StartWriteback(0)
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorIs(t, r.Commit([]byte("short")), ErrInvalid)
	require.NoError(t, r.Commit([]byte("0123456789")))
	require.ErrorIs(t, r.Commit([]byte("0123456789")), ErrInvalid)
	r.Release() // no-op after Commit
	require.Equal(t, []byte("0123456789"), readAll(t, c, 100, 10))
	wb, err := c.StartWriteback(0)
	require.NoError(t, err)
	require.NoError(t, c.EndWriteback(wb, nil))
}

// A writer that meets a folio under writeback gets a copy and does not wait for the I/O;
// the writeback view keeps the old bytes.
func TestStableFolioCopy(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20})
	old := pattern(16<<10, 1)
	_, err := c.Write(context.Background(), old, 16<<10, nil)
	require.NoError(t, err)
	wb, err := c.StartWriteback(16 << 10)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(ctx, []byte("new bytes"), 20<<10, nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("writer waited for the writeback I/O")
	}
	require.Equal(t, old, wb.Data, "writeback view changed")
	want := bytes.Clone(old)
	copy(want[4<<10:], "new bytes")
	require.Equal(t, want, readAll(t, c, 16<<10, 16<<10))
	require.Equal(t, int64(32<<10), c.Used(), "old folio kept until its I/O completes")

	ref, _ := c.Lookup(16 << 10)
	require.True(t, ref.Dirty)
	require.False(t, ref.Writeback)
	require.NoError(t, c.EndWriteback(wb, nil))
	require.Equal(t, int64(16<<10), c.Used(), "old folio freed by EndWriteback")
	ref, _ = c.Lookup(16 << 10)
	require.True(t, ref.Dirty, "the copy holds data not yet written")
	require.Equal(t, int64(16<<10), c.DirtyBytes())
}

func TestNoMemoryChangesNothing(t *testing.T) {
	const budget = 64 << 10
	c := newTestCache(t, Config{Budget: budget, HardDirty: budget})
	ctx := context.Background()
	_, err := c.Write(ctx, pattern(budget, 1), 0, nil)
	require.NoError(t, err)
	require.Equal(t, int64(budget), c.Used())

	// Too large for the budget: fails at once.
	start := time.Now()
	_, err = c.Write(ctx, make([]byte, budget+1), 1<<20, nil)
	require.ErrorIs(t, err, ErrTooLarge)
	require.ErrorIs(t, err, ErrNoMemory)
	require.Less(t, time.Since(start), time.Second)

	// Everything is dirty: the write waits until the deadline, then fails having changed nothing.
	const wait = 30 * time.Millisecond
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start = time.Now()
	_, err = c.Write(dctx, pattern(3*PageSize, 5), budget-PageSize-10, nil) // spans one cached folio and new ones
	require.ErrorIs(t, err, ErrNoMemory)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), wait)
	require.Equal(t, pattern(budget, 1), readAll(t, c, 0, budget))
	require.Equal(t, int64(budget), c.Used())
	require.Equal(t, int64(budget), c.DirtyBytes())
	_, ok := c.Lookup(budget)
	require.False(t, ok)
}

// A writer short of memory waits for writeback to clean folios, then succeeds.
func TestWaitForWriteback(t *testing.T) {
	const budget = 64 << 10
	c := newTestCache(t, Config{Budget: budget, HardDirty: budget})
	ctx := context.Background()
	_, err := c.Write(ctx, pattern(budget, 1), 0, nil)
	require.NoError(t, err)

	select {
	case <-c.NeedWriteback():
	default:
		t.Fatal("NeedWriteback not signalled above the background threshold")
	}
	require.True(t, c.OverBackground())
	go func() {
		<-c.NeedWriteback() // the blocked writer asks for writeback
		c.AscendDirty(0, budget, func(r FolioRef) bool {
			wb, err := c.StartWriteback(r.Off)
			if err == nil {
				err = c.EndWriteback(wb, nil)
			}
			return err == nil
		})
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.Write(wctx, pattern(PageSize, 3), 1<<20, nil)
	require.NoError(t, err)
	require.Equal(t, pattern(PageSize, 3), readAll(t, c, 1<<20, PageSize))
}

func TestDirtyThrottle(t *testing.T) {
	c := newTestCache(t, Config{Budget: 1 << 20, BackgroundDirty: 16 << 10, HardDirty: 32 << 10})
	ctx := context.Background()
	_, err := c.Write(ctx, pattern(36<<10, 1), 0, nil)
	require.NoError(t, err)
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = c.Write(dctx, []byte{1}, 1<<19, nil)
	require.ErrorIs(t, err, ErrNoMemory)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, int64(36<<10), c.DirtyBytes())
}

func TestFillAndEviction(t *testing.T) {
	c := newTestCache(t, Config{Budget: 64 << 10})
	data := pattern(256<<10, 3)
	for off := 0; off < len(data); off += 32 << 10 {
		require.NoError(t, c.Fill(int64(off), data[off:off+32<<10]))
		require.LessOrEqual(t, c.Used(), int64(64<<10))
	}
	p := make([]byte, 32<<10)
	n, _, err := c.Read(p, 224<<10)
	require.NoError(t, err)
	require.Equal(t, len(p), n)
	require.Equal(t, data[224<<10:], p)
	require.ErrorIs(t, c.Fill(1, make([]byte, PageSize)), ErrInvalid)
	require.Equal(t, int64(64<<10), c.Reclaim(1<<30))
	require.Zero(t, c.Used())
}

func TestInvalidAndClosed(t *testing.T) {
	c, err := New(Config{Budget: 1 << 20})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Write(ctx, []byte{1}, -1, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, _, err = c.Read(make([]byte, 1), -5)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = New(Config{Budget: -1})
	require.ErrorIs(t, err, ErrInvalid)
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), ErrClosed)
	_, err = c.Write(ctx, []byte{1}, 0, nil)
	require.ErrorIs(t, err, ErrClosed)
	_, _, err = c.Read(make([]byte, 1), 0)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, c.Fill(0, make([]byte, PageSize)), ErrClosed)
	_, err = c.StartWriteback(0)
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Reserve(ctx, 0, 1, nil)
	require.ErrorIs(t, err, ErrClosed)
}

func TestAscendDirtyOrderAndStop(t *testing.T) {
	c := newTestCache(t, Config{Budget: 4 << 20})
	ctx := context.Background()
	for _, off := range []int64{900 << 10, 4 << 10, 300 << 10, 64 << 10} {
		_, err := c.Write(ctx, []byte{1}, off, nil)
		require.NoError(t, err)
	}
	for i := 0; i < 40; i++ { // more than one internal batch
		_, err := c.Write(ctx, []byte{1}, 2<<20+int64(i)*PageSize, nil)
		require.NoError(t, err)
	}
	var offs []int64
	c.AscendDirty(0, 1<<20, func(r FolioRef) bool { offs = append(offs, r.Off); return true })
	require.Equal(t, []int64{4 << 10, 64 << 10, 300 << 10, 900 << 10}, offs)
	offs = offs[:0]
	c.AscendDirty(0, 1<<40, func(r FolioRef) bool { offs = append(offs, r.Off); return len(offs) < 2 })
	require.Len(t, offs, 2)
	n := 0
	c.AscendDirty(2<<20, 3<<20, func(FolioRef) bool { n++; return true })
	require.Equal(t, 40, n)
}

func TestArenaBuddy(t *testing.T) {
	a, err := newArena(12*PageSize, false) // blocks of 8 and 4 pages
	require.NoError(t, err)
	defer func() { require.NoError(t, a.unmap()) }()
	require.Equal(t, 3, a.topOrder)
	var pages []int32
	for i := 0; i < 12; i++ {
		p, ok := a.alloc(0)
		require.True(t, ok)
		pages = append(pages, p)
	}
	_, ok := a.alloc(0)
	require.False(t, ok)
	for _, p := range pages {
		a.free(p, 0)
	}
	require.Zero(t, a.used)
	p, ok := a.alloc(3)
	require.True(t, ok, "buddies merged back")
	require.Zero(t, p)
	_, ok = a.alloc(3)
	require.False(t, ok)
	_, ok = a.alloc(2)
	require.True(t, ok)
}

var _ = errors.Is

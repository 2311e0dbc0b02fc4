package pagecache

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// newTestPool returns a pool whose invariants are checked, and which is
// closed, when the test ends (after its caches, which the test closes).
func newTestPool(t testing.TB, cfg PoolConfig) *Pool {
	t.Helper()
	p, err := NewPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := p.checkInvariants(true); err != nil {
			t.Errorf("invariants at cleanup: %v", err)
		}
		require.NoError(t, p.Close())
	})
	return p
}

func newPoolCache(t testing.TB, p *Pool) *Cache {
	t.Helper()
	c, err := New(Config{Pool: p})
	require.NoError(t, err)
	t.Cleanup(func() {
		if !c.closed.Load() {
			require.NoError(t, c.Close())
		}
	})
	return c
}

// writeBack writes back every dirty folio of c (as an engine would, with
// no device) so that they become clean.
func writeBack(t testing.TB, c *Cache) {
	t.Helper()
	var offs []int64
	c.AscendDirty(0, 1<<62, func(r FolioRef) bool {
		offs = append(offs, r.Off)
		return true
	})
	for _, off := range offs {
		wb, err := c.StartWriteback(off)
		require.NoError(t, err)
		require.NoError(t, c.EndWriteback(wb, nil))
	}
}

// TestPoolCachesShareOneBudget: two caches on a pool hold no more than its
// budget together; a miss of one evicts the clean folios of the other; a
// closed cache gives its memory back at once; the pool refuses to close
// while a cache is open.
func TestPoolCachesShareOneBudget(t *testing.T) {
	p := newTestPool(t, PoolConfig{Budget: 256 << 10})
	a, b := newPoolCache(t, p), newPoolCache(t, p)
	require.Equal(t, 2, p.Caches())
	require.Equal(t, int64(256<<10), a.Budget())

	// a fills the whole pool with clean pages.
	for off := int64(0); off < 256<<10; off += PageSize {
		require.NoError(t, a.Fill(off, pattern(256<<10, 1)[off:off+PageSize]))
	}
	require.Equal(t, int64(256<<10), a.Used())
	// b's writes evict them, without waiting (the context is already done).
	_, err := b.Write(expiredContext(), pattern(64<<10, 2), 0, nil)
	require.NoError(t, err)
	require.Equal(t, int64(64<<10), b.Used())
	require.Equal(t, int64(192<<10), a.Used())
	require.Equal(t, int64(256<<10), p.Used())
	require.Equal(t, int64(64<<10), p.DirtyBytes())
	require.NoError(t, p.checkInvariants(true))

	// The same offsets in two caches are two files.
	require.Equal(t, pattern(64<<10, 2), readAll(t, b, 0, 64<<10))
	_, ok := a.Lookup(0)
	if ok {
		got := make([]byte, PageSize)
		n, _, err := a.Read(got, 0)
		require.NoError(t, err)
		require.Equal(t, PageSize, n)
		require.Equal(t, pattern(256<<10, 1)[:PageSize], got)
	}

	require.ErrorIs(t, p.Close(), ErrBusy)
	require.NoError(t, b.Close())
	require.Equal(t, int64(192<<10), p.Used(), "b's memory, dirty data included, went back")
	require.Zero(t, p.DirtyBytes())
	require.NoError(t, p.checkInvariants(true))
	require.NoError(t, a.Close())
	require.Zero(t, p.Used())
	require.Zero(t, p.Caches())

	_, err = New(Config{Pool: p, Budget: 1 << 20})
	require.ErrorIs(t, err, ErrInvalid, "a cache on a pool takes its budget")
}

// TestHotCacheDoesNotThrottleAColdOne: the dirty bytes of the pool exceed
// its hard threshold, all of them one cache's: that cache's writers wait,
// another cache's do not (it holds less than its share).
func TestHotCacheDoesNotThrottleAColdOne(t *testing.T) {
	p := newTestPool(t, PoolConfig{Budget: 1 << 20, HardDirty: 512 << 10})
	hot, cold := newPoolCache(t, p), newPoolCache(t, p)
	_, err := hot.Write(expiredContext(), pattern(600<<10, 1), 0, nil)
	require.NoError(t, err)
	_, err = hot.Write(expiredContext(), pattern(16<<10, 2), 700<<10, nil)
	require.ErrorIs(t, err, ErrNoMemory, "the hot cache is over the hard threshold: its writer waits")
	for i := range 8 {
		_, err = cold.Write(expiredContext(), pattern(16<<10, 3), int64(i)*16<<10, nil)
		require.NoError(t, err, "the cold cache holds less than its share: its writer goes on")
	}
	// Now both hold dirty data: each may hold half of the hard limit.
	_, err = cold.Write(expiredContext(), pattern(160<<10, 4), 128<<10, nil)
	require.NoError(t, err, "128 KiB dirty, less than half the hard limit")
	_, err = cold.Write(expiredContext(), pattern(16<<10, 4), 512<<10, nil)
	require.ErrorIs(t, err, ErrNoMemory, "288 KiB dirty, more than half the hard limit: the cold cache's writer waits too")
	writeBack(t, hot)
	_, err = hot.Write(expiredContext(), pattern(16<<10, 2), 700<<10, nil)
	require.NoError(t, err)
	require.NoError(t, p.checkInvariants(true))
}

// TestWriterShortOfMemoryWakesEveryDirtyCache: when one cache's dirty data
// fills the pool, a writer of another cache that needs memory wakes the
// writeback of the cache holding it, and goes on once that is written back.
func TestWriterShortOfMemoryWakesEveryDirtyCache(t *testing.T) {
	p := newTestPool(t, PoolConfig{Budget: 256 << 10, HardDirty: 256 << 10})
	hot, cold := newPoolCache(t, p), newPoolCache(t, p)
	_, err := hot.Write(expiredContext(), pattern(256<<10, 1), 0, nil)
	require.NoError(t, err)
	select {
	case <-hot.NeedWriteback(): // its own writes asked already
	default:
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := cold.Write(ctx, pattern(16<<10, 2), 0, nil)
		done <- err
	}()
	select {
	case <-hot.NeedWriteback():
	case <-time.After(10 * time.Second):
		t.Fatal("the hot cache's writeback was not woken")
	}
	writeBack(t, hot)
	require.NoError(t, <-done)
	require.Equal(t, pattern(16<<10, 2), readAll(t, cold, 0, 16<<10))
}

// TestPoolModel runs three caches on one pool against a model of three
// files, as TestCacheModel runs one: writes, reads, fills, writebacks,
// reclaim, and caches closed (everything written back first, as a File
// does) and opened again empty; the pool's invariants hold throughout, and
// it never holds more than its budget.
func TestPoolModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, err := NewPool(PoolConfig{Budget: modelBudget, HardDirty: modelBudget})
		if err != nil {
			t.Fatal(err)
		}
		files := make([]*cacheModel, 3)
		for i := range files {
			c, err := New(Config{Pool: p})
			if err != nil {
				t.Fatal(err)
			}
			files[i] = &cacheModel{c: c, content: make([]byte, modelFileSize), device: make([]byte, modelFileSize)}
		}
		defer func() {
			for _, m := range files {
				for _, o := range m.outstanding {
					_ = m.c.EndWriteback(o.wb, errDevice)
				}
				m.check(t)
				_ = m.c.Close()
			}
			if err := p.checkInvariants(true); err != nil {
				t.Fatal(err)
			}
			_ = p.Close()
		}()
		file := func(t *rapid.T) *cacheModel { return files[rapid.IntRange(0, len(files)-1).Draw(t, "file")] }
		t.Repeat(map[string]func(*rapid.T){
			"write":           func(t *rapid.T) { file(t).write(t) },
			"read":            func(t *rapid.T) { file(t).read(t) },
			"startWriteback":  func(t *rapid.T) { file(t).startWriteback(t) },
			"endWritebackOK":  func(t *rapid.T) { file(t).endWriteback(t, false) },
			"endWritebackErr": func(t *rapid.T) { file(t).endWriteback(t, true) },
			"reclaim": func(t *rapid.T) {
				p.Reclaim(rapid.Int64Range(0, modelBudget).Draw(t, "bytes"))
			},
			"reserve": func(t *rapid.T) {
				p.SetReserve(rapid.Int64Range(0, modelBudget).Draw(t, "reserve"))
				if b := p.Budget(); b < modelBudget/minShare || b > modelBudget {
					t.Fatalf("budget %d after a reserve", b)
				}
				if err := p.cleanBeyondLimit(); err != nil {
					t.Fatal(err)
				}
			},
			"reopen": func(t *rapid.T) {
				m := file(t)
				for _, o := range m.outstanding {
					copy(m.device[o.wb.Off:], o.wb.Data)
					if err := m.c.EndWriteback(o.wb, nil); err != nil {
						t.Fatal(err)
					}
				}
				m.outstanding = nil
				writeBackModel(t, m)
				before, own := p.Used(), m.c.Used()
				if err := m.c.Close(); err != nil {
					t.Fatal(err)
				}
				if got := p.Used(); got != before-own {
					t.Fatalf("pool uses %d after a cache of %d closed, was %d", got, own, before)
				}
				c, err := New(Config{Pool: p})
				if err != nil {
					t.Fatal(err)
				}
				m.c = c
			},
			"": func(t *rapid.T) {
				var sum int64
				for _, m := range files {
					m.check(t)
					sum += m.c.Used()
				}
				if used := p.Used(); used != sum || used > modelBudget {
					t.Fatalf("pool uses %d, its caches %d, budget %d", used, sum, modelBudget)
				}

			},
		})
	})
}

// cleanBeyondLimit reports a clean, unused folio beyond the arena's limit
// (SetReserve evicts them).
func (p *Pool) cleanBeyondLimit() error {
	p.memMu.Lock()
	defer p.memMu.Unlock()
	for id := range p.folios {
		f := &p.folios[id]
		st := f.state.Load()
		if st&stateIndexed != 0 && st&(stateDirty|stateWriteback) == 0 && f.pins.Load() == 0 && f.writers == 0 &&
			f.page+int32(1)<<f.order > p.mem.limit {
			return fmt.Errorf("clean folio %d at %d lies beyond the limit %d", id, f.off, p.mem.limit)
		}
	}
	return nil
}

// writeBackModel writes every dirty folio of m's cache to its device model.
func writeBackModel(t *rapid.T, m *cacheModel) {
	var offs []int64
	m.c.AscendDirty(0, modelFileSize, func(r FolioRef) bool {
		offs = append(offs, r.Off)
		return true
	})
	for _, off := range offs {
		wb, err := m.c.StartWriteback(off)
		if err != nil {
			t.Fatalf("start writeback at %d: %v", off, err)
		}
		copy(m.device[wb.Off:], wb.Data)
		if err := m.c.EndWriteback(wb, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(m.content, m.device) {
		t.Fatal("written back, the device model differs from the content")
	}
}

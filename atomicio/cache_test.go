package atomicio

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// openOn opens a File over a new Mem (limits l, size bytes) on cache c.
func openOn(t *testing.T, c *Cache, size int64, l blockdev.Limits, opts Options) (*File, *blockdev.Mem) {
	t.Helper()
	mem, err := blockdev.NewMem(size, l)
	require.NoError(t, err)
	opts.Cache = c
	f, err := OpenDevice(mem, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Abandon() })
	return f, mem
}

// TestFilesShareACache: Files in both modes on one Cache keep their own
// data, share its budget (one file's misses evict another's clean pages),
// give their memory back when closed, and the Cache unmaps when the last
// one closes and maps again for the next.
func TestFilesShareACache(t *testing.T) {
	c := NewCache(4 << 20)
	require.Equal(t, int64(4<<20), c.Size())
	require.Zero(t, c.Stats().CacheBudget, "nothing mapped before a File opens")
	cowA, _ := openOn(t, c, 64<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
	cowB, _ := openOn(t, c, 4<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
	nat, _ := openOn(t, c, 2<<20, blockdev.LimitsXFS, Options{MaxAtomic: 64 << 10})
	require.Equal(t, ModeCOW, cowA.Mode())
	require.Equal(t, ModeNative, nat.Mode())
	s := c.Stats()
	require.Equal(t, 3, s.Files)
	require.Equal(t, s.CacheBudget, cowA.Stats().CacheBudget, "one budget")
	require.LessOrEqual(t, s.CacheBudget+cowA.Stats().ReadBuffers.Size+nat.Stats().UnitBuffers.Size, c.Size())

	files := []*File{cowA, cowB, nat}
	for i, f := range files {
		_, err := WriteAt(f, pattern(64<<10, byte(i+1)), 4096)
		require.NoError(t, err)
	}
	for i, f := range files {
		got := make([]byte, 64<<10)
		_, err := f.ReadAt(got, 4096)
		require.NoError(t, err)
		require.Equal(t, pattern(64<<10, byte(i+1)), got, "file %d keeps its own data", i)
	}
	require.NoError(t, c.Sync())

	// cowA reads its whole device: its misses take the budget, evicting
	// the others' clean pages, never exceeding it.
	buf := make([]byte, 1<<20)
	require.Greater(t, cowA.Size(), 2*c.Size())
	for off := int64(0); off+int64(len(buf)) <= cowA.Size(); off += int64(len(buf)) {
		_, err := cowA.ReadAt(buf, off)
		require.NoError(t, err)
		require.LessOrEqual(t, c.Stats().CacheBytes, s.CacheBudget)
	}
	require.Greater(t, cowA.Stats().CacheBytes, s.CacheBudget/2, "a busy file takes the memory the quiet ones do not use")

	used := c.Stats().CacheBytes
	own := cowA.Stats().CacheBytes
	require.NoError(t, cowA.Close())
	require.Equal(t, used-own, c.Stats().CacheBytes, "a closed file gives its memory back")
	require.NoError(t, cowB.Close())
	require.NoError(t, nat.Close())
	require.Equal(t, CacheStats{Size: 4 << 20}, c.Stats(), "the last Close unmaps")

	again, _ := openOn(t, c, 4<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
	_, err := WriteAt(again, pattern(4096, 9), 0)
	require.NoError(t, err)
	require.NoError(t, again.Close())

	_, err = OpenDevice(mustMem(t, 1<<20, blockdev.LimitsNone), Options{Cache: c, CacheSize: 1 << 20})
	require.ErrorIs(t, err, ErrInvalid, "a File on a Cache takes its size from the Cache")
}

func mustMem(t *testing.T, size int64, l blockdev.Limits) *blockdev.Mem {
	t.Helper()
	mem, err := blockdev.NewMem(size, l)
	require.NoError(t, err)
	return mem
}

// TestCacheSyncIsEveryFileDurableInParallel: Cache.Sync makes every File
// durable (a crash image of each device, taken after it, holds what was
// written), their flushes run in parallel (ten Files whose flush takes
// 30 ms sync in far less than 300 ms), and a File whose device fails makes
// it fail with that File's error while the others are durable.
func TestCacheSyncIsEveryFileDurableInParallel(t *testing.T) {
	const files, flush = 10, 30 * time.Millisecond
	c := NewCache(8 << 20)
	mems := make([]*blockdev.Mem, files)
	fds := make([]*blockdev.FaultDevice, files)
	fs := make([]*File, files)
	for i := range files {
		mem, err := blockdev.NewMem(2<<20, blockdev.LimitsNone)
		require.NoError(t, err)
		mems[i] = mem
		fds[i] = blockdev.WithFaults(slowFlush{Device: mem, delay: flush}, nil)
		fs[i], err = OpenDevice(fds[i], Options{Cache: c, MaxAtomic: 64 << 10, FlushInterval: -1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = fs[i].Abandon() })
	}
	write := func(round byte) {
		for i, f := range fs {
			_, err := WriteAt(f, pattern(32<<10, round+byte(i)), 8192)
			require.NoError(t, err)
		}
	}
	write(1)
	start := time.Now()
	require.NoError(t, c.Sync())
	took := time.Since(start)
	require.Less(t, took, files*flush/2, "the Files' flushes run in parallel")
	for i, mem := range mems {
		g, err := OpenDevice(mem.CrashClone(blockdev.CrashConfig{Seed: uint64(i)}), Options{MaxAtomic: 64 << 10})
		require.NoError(t, err)
		got := make([]byte, 32<<10)
		_, err = g.ReadAt(got, 8192)
		require.NoError(t, err)
		require.Equal(t, pattern(32<<10, 1+byte(i)), got, "file %d durable after Cache.Sync", i)
		require.NoError(t, g.Close())
	}

	write(50)
	fds[3].SetInjector(blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO), blockdev.OpFlush))
	err := c.Sync()
	require.ErrorIs(t, err, ErrSyncFailed)
	require.ErrorIs(t, err, syscall.EIO)
	require.ErrorIs(t, fs[3].Sync(), syscall.EIO, "the failed File's own Sync reports it too")
	require.NoError(t, fs[4].Sync(), "the others are not affected")
	fds[3].SetInjector(nil)
	require.NoError(t, c.Sync())
}

// stuckFlush is a device whose Flush, once armed, waits until release is
// closed: a disk that takes its time.
type stuckFlush struct {
	blockdev.Device
	armed   *atomic.Bool
	release chan struct{}
}

func (d stuckFlush) Flush() error {
	if d.armed.Load() {
		<-d.release
	}
	return d.Device.Flush()
}

// TestHotFileCannotStarveAnother: one File on a shared Cache fills it with
// dirty data beyond the hard dirty limit and its writeback is stuck in a
// flush (a slow disk); another File's writes must still go through, each
// well within its WriteTimeout: it holds less than its share of the dirty
// limit, so it does not wait for the hot File's writeback. (Counting only
// the Cache's dirty bytes, as a File's own cache does, makes each of them
// fail with ErrNoMemory after the timeout.)
func TestHotFileCannotStarveAnother(t *testing.T) {
	const timeout = time.Second
	c := NewCache(2 << 20)
	release := make(chan struct{})
	var once sync.Once
	unstick := func() { once.Do(func() { close(release) }) }
	hotMem, err := blockdev.NewMem(64<<20, blockdev.LimitsNone)
	require.NoError(t, err)
	stuck := &atomic.Bool{}
	hot, err := OpenDevice(stuckFlush{Device: hotMem, armed: stuck, release: release}, Options{Cache: c, MaxAtomic: 64 << 10, WriteTimeout: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = hot.Abandon() })
	t.Cleanup(unstick) // runs first: a failed test must not leave the flush stuck
	stuck.Store(true)
	cold, _ := openOn(t, c, 16<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10, WriteTimeout: timeout})

	budget := c.Stats().CacheBudget
	var wg sync.WaitGroup
	hotErrs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			p := pattern(16<<10, byte(w))
			for i := range int(budget / (16 << 10)) {
				if _, err := WriteAt(hot, p, int64(i*4+w)<<14); err != nil {
					hotErrs <- err
					return
				}
			}
		})
	}
	hard := budget * 3 / 4
	require.Eventually(t, func() bool { return c.Stats().DirtyBytes > hard }, 10*time.Second, time.Millisecond,
		"the hot file's dirty data must exceed the hard limit")
	var worst time.Duration
	for i := range 20 {
		start := time.Now()
		_, err := WriteAt(cold, pattern(4096, byte(i)), int64(i)*4096)
		require.NoError(t, err, "the quiet file's write %d", i)
		worst = max(worst, time.Since(start))
	}
	require.Greater(t, c.Stats().DirtyBytes, hard, "the hot file's writeback was stuck throughout")
	unstick()
	wg.Wait()
	close(hotErrs)
	for err := range hotErrs {
		require.NoError(t, err)
	}
	t.Logf("quiet file's slowest write %v (its timeout %v)", worst, timeout)
	require.Less(t, worst, timeout/2)
	require.NoError(t, c.Sync())
}

// TestHotFileCannotStarveAnotherUnderLoad: the same under a steady load:
// four goroutines write one File over far more than the Cache holds, on a
// device whose flush takes 5 ms, while another File's writer writes a page
// a millisecond; none of its writes may wait beyond half its timeout.
func TestHotFileCannotStarveAnotherUnderLoad(t *testing.T) {
	const timeout = 2 * time.Second
	c := NewCache(2 << 20)
	open := func() *File {
		mem, err := blockdev.NewMem(16<<20, blockdev.LimitsNone)
		require.NoError(t, err)
		f, err := OpenDevice(slowFlush{Device: mem, delay: 5 * time.Millisecond},
			Options{Cache: c, MaxAtomic: 64 << 10, WriteTimeout: timeout})
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.Abandon() })
		return f
	}
	hot, cold := open(), open()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hotErrs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			p := pattern(16<<10, byte(w))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				off := int64((i*7919+w*104729)%int(hot.Size()>>14)) << 14
				if _, err := WriteAt(hot, p, off); err != nil && !errors.Is(err, ErrNoMemory) {
					hotErrs <- err
					return
				}
			}
		})
	}
	var worst time.Duration
	for i := range 300 {
		start := time.Now()
		_, err := WriteAt(cold, pattern(4096, byte(i)), int64(i%64)*4096)
		require.NoError(t, err, "the quiet file's write %d", i)
		worst = max(worst, time.Since(start))
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(hotErrs)
	for err := range hotErrs {
		require.NoError(t, err)
	}
	hs := hot.Stats()
	t.Logf("quiet file's slowest write %v (timeout %v); hot file: %d throttled passes, %d MiB written back",
		worst, timeout, hs.Writeback.Throttles, hs.Writeback.BytesWritten>>20)
	require.Positive(t, hs.Writeback.Throttles, "the hot file must have filled the cache")
	require.Less(t, worst, timeout/2)
}

// TestNoGoroutineLeftAfterClosingFilesOnACache: Files on a Cache, synced
// through it, leave no goroutine behind once closed.
func TestNoGoroutineLeftAfterClosingFilesOnACache(t *testing.T) {
	before := runtime.NumGoroutine()
	c := NewCache(4 << 20)
	var fs []*File
	for i := range 8 {
		mem, err := blockdev.NewMem(1<<20, blockdev.LimitsNone)
		require.NoError(t, err)
		f, err := OpenDevice(mem, Options{Cache: c, MaxAtomic: 64 << 10, FlushInterval: time.Millisecond})
		require.NoError(t, err)
		_, err = WriteAt(f, pattern(40000, byte(i)), 1234)
		require.NoError(t, err)
		fs = append(fs, f)
	}
	require.NoError(t, c.Sync())
	for _, f := range fs {
		require.NoError(t, f.Close())
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
	require.Zero(t, c.Stats().Files)
}

// TestCacheSyncRacesClose: Files closing while Cache.Sync runs are no
// error (Close syncs them itself).
func TestCacheSyncRacesClose(t *testing.T) {
	c := NewCache(4 << 20)
	var fs []*File
	for range 6 {
		f, _ := openOn(t, c, 1<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
		fs = append(fs, f)
	}
	for round := range 20 {
		for i, f := range fs {
			_, err := WriteAt(f, bytes.Repeat([]byte{byte(round)}, 4096), int64(i)*4096)
			require.NoError(t, err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Sync() }()
		if round == 10 {
			for _, f := range fs[:3] {
				require.NoError(t, f.Close())
			}
		}
		require.NoError(t, <-done, fmt.Sprintf("round %d", round))
		if round == 10 {
			fs = fs[3:]
		}
	}
}

// TestCacheReservesTheFilesMemory: the memory Files hold outside the pages
// (indexes, container maps) comes out of a shared Cache's budget: the
// pages' share falls as Files open and grows back as they close.
func TestCacheReservesTheFilesMemory(t *testing.T) {
	c := NewCache(16 << 20)
	first, _ := openOn(t, c, 4<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
	alone := c.Stats().CacheBudget
	var fs []*File
	for range 40 {
		f, _ := openOn(t, c, 64<<20, blockdev.LimitsNone, Options{MaxAtomic: 64 << 10})
		fs = append(fs, f)
	}
	many := c.Stats().CacheBudget
	require.Less(t, many, alone-40*fileOverhead, "forty more Files hold memory the pages give up")
	require.GreaterOrEqual(t, many, c.Size()/8, "the pages keep a share")
	for _, f := range fs {
		require.NoError(t, f.Close())
	}
	require.Equal(t, alone, c.Stats().CacheBudget, "closed Files give it back")
	require.NoError(t, first.Close())
}

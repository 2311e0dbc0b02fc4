package pagestore

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

func TestOverflowChainsAndReopen(t *testing.T) {
	r := openRig(t, newTestMem(t), Options{Buckets: 2})
	checkOnCleanup(t, &r)
	want := map[string]string{}
	for i := range 40 {
		k, v := fmt.Sprintf("key%d", i), string(bytes.Repeat([]byte{byte('a' + i%26)}, 1500))
		require.NoError(t, r.store.Put([]byte(k), []byte(v)))
		want[k] = v
	}
	require.NoError(t, r.store.Sync())
	require.NoError(t, r.store.Check())
	long := 0
	for _, chain := range r.store.chains {
		long = max(long, len(chain))
	}
	require.GreaterOrEqual(t, long, 2, "1500-byte values overflow a bucket's first page")
	require.NoError(t, r.store.Close())
	r = openRig(t, r.mem.CrashClone(blockdev.CrashConfig{}), Options{Buckets: 7}) // Buckets ignored now
	require.Len(t, r.store.committed.heads, 2)
	require.Equal(t, want, contents(t, r.store))
}

func TestPagesAreReused(t *testing.T) {
	r := openRig(t, newTestMem(t), Options{Buckets: 4})
	checkOnCleanup(t, &r)
	for round := range 200 {
		for i := range 8 {
			require.NoError(t, r.store.Put(fmt.Appendf(nil, "k%d", i), bytes.Repeat([]byte{byte(round)}, 4000)))
		}
		require.NoError(t, r.store.Sync())
	}
	require.Less(t, r.store.committed.pageCount, uint32(30), "freed chains are reused")
}

func TestFullLeavesChangesPending(t *testing.T) {
	r := openRig(t, newTestMem(t), Options{Buckets: 1})
	checkOnCleanup(t, &r)
	var err error
	i := 0
	for ; err == nil; i++ {
		require.NoError(t, r.store.Put(fmt.Appendf(nil, "k%d", i), make([]byte, MaxValueSize)))
		err = r.store.Sync()
	}
	require.ErrorIs(t, err, ErrFull)
	require.NoError(t, r.store.Check())
	for j := range i {
		_, err := r.store.Delete(fmt.Appendf(nil, "k%d", j))
		require.NoError(t, err)
	}
	require.NoError(t, r.store.Sync(), "after deleting, the pending changes fit")
	require.Zero(t, r.store.Len())
}

func TestBadInput(t *testing.T) {
	r := openRig(t, newTestMem(t), Options{})
	require.ErrorIs(t, r.store.Put(make([]byte, MaxKeySize+1), nil), ErrTooLarge)
	require.ErrorIs(t, r.store.Put([]byte("k"), make([]byte, MaxValueSize+1)), ErrTooLarge)
	require.Zero(t, r.store.Len())
	require.NoError(t, r.store.Put(nil, nil), "an empty key is a key")
	v, ok, err := r.store.Get([]byte{})
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, v)
	require.NoError(t, r.store.Close())
	require.ErrorIs(t, r.store.Put([]byte("k"), nil), ErrClosed)
	_, _, err = r.store.Get([]byte("k"))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, r.store.Close(), ErrClosed)

	_, err = Open(nil, Options{})
	require.ErrorIs(t, err, ErrInvalid)
	f, err := atomicio.OpenDevice(newTestMem(t), testFileOptions())
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	_, err = Open(f, Options{Buckets: MaxBuckets + 1})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestCorruptionIsFound(t *testing.T) {
	r := openRig(t, newTestMem(t), Options{Buckets: 1})
	require.NoError(t, r.store.Put([]byte("a"), []byte("1")))
	require.NoError(t, r.store.Close())
	img := r.mem.CrashClone(blockdev.CrashConfig{})
	// Flip one byte of the bucket's page (page 1) behind the store's back.
	buf := blockdev.AlignedBuffer(4096, 512)
	_, err := img.ReadAt(buf, PageSize)
	require.NoError(t, err)
	buf[100] ^= 0xff
	_, err = img.WriteAt(buf, PageSize, 0)
	require.NoError(t, err)
	f, err := atomicio.OpenDevice(img, testFileOptions())
	require.NoError(t, err)
	defer func() { _ = f.Abandon() }()
	_, err = Open(f, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestFailedSyncIsSticky: an I/O error inside Sync fails the store; the
// reopened store holds the last commit, or the failed one whole (its batch
// was written, only the flush failed): without the volatile writes the
// first, with all of them the second.
func TestFailedSyncIsSticky(t *testing.T) {
	mem := newTestMem(t)
	faults := blockdev.WithFaults(mem, nil)
	f, err := atomicio.OpenDevice(faults, testFileOptions())
	require.NoError(t, err)
	s, err := Open(f, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Put([]byte("a"), []byte("1")))
	require.NoError(t, s.Sync())
	require.NoError(t, s.Put([]byte("b"), []byte("2")))
	faults.SetInjector(blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO), blockdev.OpFlush))
	err = s.Sync()
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, err, blockdev.ErrInjected)
	require.ErrorIs(t, s.Put([]byte("c"), nil), ErrFailed)
	_ = f.Abandon()
	for survive, want := range map[float64]map[string]string{0: {"a": "1"}, 1: {"a": "1", "b": "2"}} {
		r := openRig(t, mem.CrashClone(blockdev.CrashConfig{Survive: survive}), Options{})
		require.NoError(t, r.store.Check())
		require.Equal(t, want, contents(t, r.store), "survive %v", survive)
		_ = r.f.Abandon()
	}
}

func BenchmarkPutSync(b *testing.B) {
	r := openRig(b, newTestMem(b), Options{Buckets: 16})
	defer func() { _ = r.f.Abandon() }()
	v := make([]byte, 100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := r.store.Put(fmt.Appendf(nil, "k%d", i%200), v); err != nil {
			b.Fatal(err)
		}
		if i%16 == 15 {
			if err := r.store.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkGet(b *testing.B) {
	r := openRig(b, newTestMem(b), Options{Buckets: 16})
	defer func() { _ = r.f.Abandon() }()
	for i := range 200 {
		require.NoError(b, r.store.Put(fmt.Appendf(nil, "k%d", i), make([]byte, 100)))
	}
	require.NoError(b, r.store.Sync())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := r.store.Get(fmt.Appendf(nil, "k%d", i%200)); err != nil {
			b.Fatal(err)
		}
	}
}

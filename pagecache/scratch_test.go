package pagecache

import (
	"context"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestScratchNeverHandsOutMoreThanItsSize(t *testing.T) {
	s, err := NewScratch(100<<10, true) // rounded down to 64 KiB
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.Equal(t, int64(64<<10), s.Size())

	var bufs []ScratchBuf
	for {
		b, ok := s.TryGet(5000) // two pages
		if !ok {
			break
		}
		require.Len(t, b.Data, 5000)
		require.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(b.Data)))%PageSize, "page aligned")
		bufs = append(bufs, b)
	}
	require.Len(t, bufs, 8)
	require.Equal(t, ScratchStats{Size: 64 << 10, InUse: 64 << 10, Peak: 64 << 10}, s.Stats())
	_, ok := s.TryGet(1)
	require.False(t, ok)
	for _, b := range bufs {
		s.Put(b)
	}
	big, ok := s.TryGet(64 << 10)
	require.True(t, ok, "the blocks merge again")
	s.Put(big)
	_, err = s.Get(context.Background(), 64<<10+1)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, ScratchStats{Size: 64 << 10, InUse: 0, Peak: 64 << 10}, s.Stats())
}

func TestScratchGetWaitsForPut(t *testing.T) {
	s, err := NewScratch(16<<10, false)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	held, err := s.Get(context.Background(), 16<<10)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err = s.Get(ctx, PageSize)
	require.ErrorIs(t, err, ErrNoMemory)

	const readers = 8
	var wg sync.WaitGroup
	got := make(chan ScratchBuf, readers)
	for range readers {
		wg.Go(func() {
			b, err := s.Get(context.Background(), 8<<10)
			if err == nil {
				got <- b
			}
		})
	}
	time.Sleep(2 * time.Millisecond)
	require.Empty(t, got, "every Get waits while the memory is out")
	s.Put(held)
	for range readers {
		b := <-got
		require.LessOrEqual(t, s.Stats().InUse, s.Size())
		s.Put(b)
	}
	wg.Wait()
	require.Equal(t, s.Size(), s.Stats().Peak)
}

func TestScratchGetPutDoNotAllocate(t *testing.T) {
	s, err := NewScratch(64<<10, true)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		b, err := s.Get(ctx, 12<<10)
		if err != nil {
			t.Fatal(err)
		}
		s.Put(b)
	})
	require.Zero(t, allocs)
}

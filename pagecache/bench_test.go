package pagecache

import (
	"context"
	"sync/atomic"
	"testing"
)

func benchCache(b *testing.B, budget int64, prefill int64, folio int) *Cache {
	c, err := New(Config{Budget: budget, HardDirty: budget})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	data := make([]byte, folio)
	for off := int64(0); off < prefill; off += int64(folio) {
		if err := c.Fill(off, data); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

func benchReadHit(b *testing.B, size int) {
	const span = 16 << 20
	c := benchCache(b, 64<<20, span, 16<<10)
	p := make([]byte, size)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	off := int64(0)
	for b.Loop() {
		if n, _, err := c.Read(p, off); err != nil || n != size {
			b.Fatalf("read: %d, %v", n, err)
		}
		off = (off + int64(size)) % span
	}
}

func BenchmarkReadHit4K(b *testing.B)  { benchReadHit(b, 4<<10) }
func BenchmarkReadHit16K(b *testing.B) { benchReadHit(b, 16<<10) }

func BenchmarkReadHitParallel4K(b *testing.B) {
	const span = 16 << 20
	c := benchCache(b, 64<<20, span, 16<<10)
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetBytes(4 << 10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 4<<10)
		off := seq.Add(1<<20) % span
		for pb.Next() {
			if n, _, err := c.Read(p, off); err != nil || n != len(p) {
				b.Errorf("read: %d, %v", n, err)
				return
			}
			off = (off + 4<<10) % span
		}
	})
}

// Writes into folios already cached (and dirty after the first round).
func BenchmarkWriteCached16K(b *testing.B) {
	const span = 16 << 20
	c := benchCache(b, 64<<20, span, 16<<10)
	p := make([]byte, 16<<10)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	off := int64(0)
	for b.Loop() {
		if _, err := c.Write(ctx, p, off, nil); err != nil {
			b.Fatal(err)
		}
		off = (off + int64(len(p))) % span
	}
}

// Writes to ever new 16 KiB ranges in a full cache: each write evicts a clean folio; the
// written folio is then written back (Start/End) so that it is clean in turn.
func BenchmarkReserveNew16K(b *testing.B) {
	const budget = 4 << 20
	c := benchCache(b, budget, budget, 16<<10)
	p := make([]byte, 16<<10)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	off := int64(budget)
	for b.Loop() {
		if _, err := c.Write(ctx, p, off, nil); err != nil {
			b.Fatal(err)
		}
		wb, err := c.StartWriteback(off)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.EndWriteback(wb, nil); err != nil {
			b.Fatal(err)
		}
		off += int64(len(p))
	}
}

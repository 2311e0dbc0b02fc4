package pagecache

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncDevice is a device image shared by the goroutines of a test.
type syncDevice struct {
	mu   sync.Mutex // guards data
	data []byte
}

func (d *syncDevice) readAt(off int64, buf []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(buf, d.data[off:])
	return nil
}

func (d *syncDevice) writeAt(off int64, buf []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(d.data[off:], buf)
}

// Writers, readers and filler goroutines on their own parts of the file, a shared read-only
// part, and a writeback goroutine, all at once; each owner checks it reads what it wrote.
func TestConcurrentReadersWritersWriteback(t *testing.T) {
	const (
		workers  = 8
		part     = 256 << 10
		budget   = 1 << 20
		shared   = workers * part
		opsPerGo = 300
	)
	c := newTestCache(t, Config{Budget: budget, BackgroundDirty: budget / 8, HardDirty: budget / 2})
	dev := &syncDevice{data: make([]byte, shared+part)}
	copy(dev.data[shared:], pattern(part, 77))

	stop := make(chan struct{})
	var wbDone sync.WaitGroup
	var written atomic.Int64
	wbDone.Add(1)
	go func() { // the writeback engine
		defer wbDone.Done()
		for {
			select {
			case <-stop:
				return
			case <-c.NeedWriteback():
			case <-time.After(time.Millisecond):
			}
			c.AscendDirty(0, shared, func(r FolioRef) bool {
				wb, err := c.StartWriteback(r.Off)
				if err != nil {
					if !errors.Is(err, ErrBusy) && !errors.Is(err, ErrNotDirty) {
						t.Errorf("start writeback: %v", err)
					}
					return true
				}
				var ioErr error
				if rand.IntN(10) == 0 {
					ioErr = errDevice
				} else {
					dev.writeAt(wb.Off, wb.Data)
					written.Add(int64(len(wb.Data)))
				}
				if err := c.EndWriteback(wb, ioErr); err != nil {
					t.Errorf("end writeback: %v", err)
				}
				return true
			})
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			base := int64(w) * part
			model := make([]byte, part)
			buf := make([]byte, 64<<10)
			for i := range opsPerGo {
				n := 1 + rng.IntN(32<<10)
				off := rng.Int64N(int64(part - n))
				switch rng.IntN(4) {
				case 0, 1:
					p := pattern(n, byte(i))
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := c.Write(ctx, p, base+off, dev.readAt)
					cancel()
					if err != nil {
						if !errors.Is(err, ErrNoMemory) {
							t.Errorf("worker %d: write: %v", w, err)
							return
						}
						continue
					}
					copy(model[off:], p)
				case 2:
					if err := readThroughDev(c, dev, buf[:n], base+off); err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					if !bytes.Equal(buf[:n], model[off:off+int64(n)]) {
						t.Errorf("worker %d: read %d at %d differs from what it wrote", w, n, off)
						return
					}
				case 3:
					if err := readThroughDev(c, dev, buf[:n], shared+off); err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					if !bytes.Equal(buf[:n], pattern(part, 77)[off:off+int64(n)]) {
						t.Errorf("worker %d: shared read %d at %d wrong", w, n, off)
						return
					}
				}
				if used := c.Used(); used > budget {
					t.Errorf("used %d > budget", used)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	wbDone.Wait()
	require.NoError(t, c.checkInvariants(true))
	t.Logf("written back %d KiB", written.Load()>>10)
}

// readThroughDev reads p at off from the cache, filling misses from dev.
func readThroughDev(c *Cache, dev *syncDevice, p []byte, off int64) error {
	for k := 0; k < len(p); {
		n, gap, err := c.Read(p[k:], off+int64(k))
		if err != nil {
			return err
		}
		k += n
		if k == len(p) {
			return nil
		}
		// What is not cached is clean: the device has it.
		data := make([]byte, gap.Len)
		if err := dev.readAt(gap.Off, data); err != nil {
			return err
		}
		if err := c.Fill(gap.Off, data); err != nil && !errors.Is(err, ErrNoMemory) {
			return err
		}
		k += copy(p[k:], data[off+int64(k)-gap.Off:])
	}
	return nil
}

package atomicio

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// slowFlush makes every Flush of the device under it take a while, as a
// real one does: a Sync that returned before its pass's flush then has a
// window in which a power cut finds its data volatile.
type slowFlush struct {
	blockdev.Device
	delay time.Duration
}

func (d slowFlush) Flush() error {
	time.Sleep(d.delay)
	return d.Device.Flush()
}

// racingCase is one run of the group-commit crash test.
type racingCase struct {
	native  bool
	seed    uint64
	early   bool // the negative control: followers return before the flush
	workers int
	crashes int
}

// racingResult says what one case found.
type racingResult struct {
	syncs, crashes int
	joined         int64 // Syncs that joined another's pass
	passes         int64
	violation      error // the first promise a crash image broke
}

// region is the 16 KiB a worker owns; every write stamps the worker's
// version number into each 512-byte block of it, so a torn write shows as
// two versions in one region.
const racingRegion = 16 << 10

func stampRegion(p []byte, v uint64) {
	for b := 0; b < len(p); b += 512 {
		binary.LittleEndian.PutUint64(p[b:], v)
		for i := b + 8; i < b+512; i++ {
			p[i] = byte(v)
		}
	}
}

// versionOf returns the version every block of p holds, or an error when
// the blocks disagree (a torn write) or hold something nobody wrote.
func versionOf(p []byte) (uint64, error) {
	v := binary.LittleEndian.Uint64(p)
	for b := 0; b < len(p); b += 512 {
		if got := binary.LittleEndian.Uint64(p[b:]); got != v {
			return 0, fmt.Errorf("torn: block at %d holds version %d, block 0 version %d", b, got, v)
		}
		for i := b + 8; i < b+512; i++ {
			if p[i] != byte(v) {
				return 0, fmt.Errorf("block at %d: byte %d is not version %d's", b, i, v)
			}
		}
	}
	return v, nil
}

// runRacingCase lets workers each rewrite a region of their own and Sync,
// over and over, while a crasher cuts the power (CrashClone) at random
// moments. Before each cut it notes, per worker, the last version whose
// Sync had returned nil (it must be in the image, or a later one) and,
// after it, the last version a worker had begun to write (nothing later
// can be); the image, reopened, must hold per region one version, whole,
// between the two.
func runRacingCase(t *testing.T, c racingCase) racingResult {
	t.Helper()
	limits, size := blockdev.LimitsNone, int64(2<<20)
	if c.native {
		limits, size = blockdev.LimitsXFS, int64(c.workers)*racingRegion
	}
	mem, err := blockdev.NewMem(size, limits)
	require.NoError(t, err)
	opts := Options{CacheSize: 1 << 20, MaxAtomic: racingRegion, FlushInterval: 3 * time.Millisecond, earlyFollowers: c.early}
	f, err := OpenDevice(slowFlush{Device: mem, delay: time.Millisecond}, opts)
	require.NoError(t, err)
	want := ModeCOW
	if c.native {
		want = ModeNative
	}
	require.Equal(t, want, f.Mode())
	defer func() { _ = f.Abandon() }()

	var begun, acked = make([]atomic.Uint64, c.workers), make([]atomic.Uint64, c.workers)
	var syncs atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, c.workers)
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Go(func() {
			buf := make([]byte, racingRegion)
			for v := uint64(1); ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				stampRegion(buf, v)
				begun[w].Store(v) // before the write: an image may hold it from now on
				if _, err := WriteAt(f, buf, int64(w)*racingRegion); err != nil {
					errs <- err
					return
				}
				if err := f.Sync(); err != nil {
					errs <- err
					return
				}
				acked[w].Store(v)
				syncs.Add(1)
			}
		})
	}

	res := racingResult{}
	rng := rand.New(rand.NewPCG(c.seed, 21))
	lo, hi := make([]uint64, c.workers), make([]uint64, c.workers)
	for range c.crashes {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
		for w := range lo {
			lo[w] = acked[w].Load()
		}
		clone := mem.CrashClone(blockdev.CrashConfig{Seed: rng.Uint64(), Survive: []float64{0, 0.5}[rng.IntN(2)]})
		for w := range hi {
			hi[w] = begun[w].Load()
		}
		res.crashes++
		if err := checkRacingImage(clone, c.workers, lo, hi); err != nil {
			res.violation = err
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s := f.Stats().Writeback
	res.syncs, res.joined, res.passes = int(syncs.Load()), s.SyncsJoined, s.Passes
	require.NoError(t, f.Close())
	return res
}

// checkRacingImage reopens a crash image and checks each worker's region.
func checkRacingImage(img *blockdev.Mem, workers int, lo, hi []uint64) error {
	g, err := OpenDevice(img, Options{CacheSize: 1 << 20, MaxAtomic: racingRegion, FlushInterval: -1})
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer func() { _ = g.Close() }()
	buf := make([]byte, racingRegion)
	for w := range workers {
		if _, err := g.ReadAt(buf, int64(w)*racingRegion); err != nil {
			return fmt.Errorf("worker %d: read: %w", w, err)
		}
		v, err := versionOf(buf)
		switch {
		case err != nil && lo[w] == 0 && isZero(buf):
			// never synced, never written: zeros are right
		case err != nil:
			return fmt.Errorf("worker %d: %w", w, err)
		case v < lo[w]:
			return fmt.Errorf("worker %d: lost: the image holds version %d, but the Sync after version %d had returned", w, v, lo[w])
		case v > hi[w]:
			return fmt.Errorf("worker %d: phantom version %d, only %d had begun", w, v, hi[w])
		}
	}
	return nil
}

func isZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// racingCases are the cases the group-commit crash test and its negative
// control run: both modes, a few seeds.
func racingCases(early bool) []racingCase {
	var cases []racingCase
	for _, native := range []bool{false, true} {
		for seed := range uint64(testsize.Pick(3, 20)) {
			cases = append(cases, racingCase{native: native, seed: seed, early: early, workers: 8, crashes: testsize.Pick(15, 60)})
		}
	}
	return cases
}

// TestManySyncsRacingWritesAndCrashes: eight goroutines write and Sync
// their own regions as fast as they can, so that most Syncs join a pass
// another one leads, while power cuts fall at random moments: every image
// must hold every region whole, at least as new as its last acknowledged
// Sync. The flush is slowed to 1 ms, as on a disk, so that a Sync
// returning early would be caught (see the negative control).
func TestManySyncsRacingWritesAndCrashes(t *testing.T) {
	var syncs, joined, passes, crashes int64
	for _, c := range racingCases(false) {
		t.Run(fmt.Sprintf("native=%v/seed=%d", c.native, c.seed), func(t *testing.T) {
			r := runRacingCase(t, c)
			require.NoError(t, r.violation)
			syncs, joined, passes, crashes = syncs+int64(r.syncs), joined+r.joined, passes+r.passes, crashes+int64(r.crashes)
		})
	}
	t.Logf("%d crash images checked; %d Syncs returned, %d of them joined a pass another ran; %d passes", crashes, syncs, joined, passes)
	require.Positive(t, joined, "Syncs must share passes")
}

// TestRacingSyncsCatchEarlyFollowers is the negative control: an engine
// whose followers return when the pass's writes returned, before its
// flush, must be caught losing acknowledged data; the honest engine passes
// the same cases (above).
func TestRacingSyncsCatchEarlyFollowers(t *testing.T) {
	cases := racingCases(true)
	caught := 0
	for _, c := range cases {
		t.Run(fmt.Sprintf("native=%v/seed=%d", c.native, c.seed), func(t *testing.T) {
			r := runRacingCase(t, c)
			if r.violation != nil {
				require.Contains(t, r.violation.Error(), "lost", "an early follower loses data; it tears nothing")
				caught++
			}
		})
	}
	t.Logf("early followers caught in %d of %d cases", caught, len(cases))
	require.Equal(t, len(cases), caught, "every case must catch Syncs that return before the flush")
}

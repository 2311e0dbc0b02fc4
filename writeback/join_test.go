package writeback

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// flushGate is a device whose next Flush, once armed, stops until the test
// releases it, with the error the test gives (nil: it flushes).
type flushGate struct {
	blockdev.Device
	mu      sync.Mutex // guards the fields below
	armed   bool
	entered chan struct{}
	release chan error
	flushes int
}

func newFlushGate(dev blockdev.Device) *flushGate {
	return &flushGate{Device: dev}
}

// arm makes the next Flush wait; entered is closed when it does.
func (g *flushGate) arm() (entered <-chan struct{}, release chan<- error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
	g.entered, g.release = make(chan struct{}), make(chan error)
	return g.entered, g.release
}

func (g *flushGate) Flush() error {
	g.mu.Lock()
	g.flushes++
	hold, entered, release := g.armed, g.entered, g.release
	g.armed = false
	g.mu.Unlock()
	if hold {
		close(entered)
		if err := <-release; err != nil {
			return err
		}
	}
	return g.Device.Flush()
}

func (g *flushGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.flushes
}

// gatedEngine starts an engine over a flush gate on a Mem: in native mode
// on the Mem itself, in COW mode on a container over it.
func gatedEngine(t *testing.T, native bool) (*Engine, *flushGate) {
	t.Helper()
	mem, err := blockdev.NewMem(4<<20, blockdev.LimitsXFS)
	require.NoError(t, err)
	gate := newFlushGate(mem)
	var dev blockdev.Device = gate
	if !native {
		c, err := cow.Format(gate, cow.Options{})
		require.NoError(t, err)
		dev = c
	}
	t.Cleanup(func() { require.NoError(t, dev.Close()) })
	return startEngine(t, Config{Device: dev, Native: native}, 1<<20), gate
}

// nextSyncs returns how many Syncs wait for the next pass.
func (e *Engine) nextSyncs() int {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if e.next == nil {
		return 0
	}
	return e.next.syncs
}

// TestSyncsShareOnePass: Syncs that arrive while a pass flushes all wait
// for the next pass, which one of them leads: one more pass and one flush
// for all of them. None returns before that pass's flush has returned, and
// when the flush fails every one of them gets the error; the next Sync
// then writes their data.
func TestSyncsShareOnePass(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			e, gate := gatedEngine(t, native)
			ctx := context.Background()
			page := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, 16<<10) }
			require.NoError(t, e.Write(ctx, page(0), 0, true))

			entered, release := gate.arm()
			first := make(chan error, 1)
			go func() { first <- e.Sync() }()
			<-entered // the first pass is in its flush

			const followers = 8
			done := make(chan error, followers)
			for i := 1; i <= followers; i++ {
				require.NoError(t, e.Write(ctx, page(i), int64(i)*16<<10, true))
				go func() { done <- e.Sync() }()
			}
			// One of them leads the next pass (it waits for the pass lock),
			// the others follow it.
			require.Eventually(t, func() bool { return e.nextSyncs() == followers }, 5*time.Second, time.Millisecond)
			passes := e.Stats().Passes
			requireNone(t, first, done)

			entered2, release2 := gate.arm()
			release <- nil
			require.NoError(t, <-first)
			<-entered2 // the second pass, carrying all eight, is in its flush
			requireNone(t, done)
			release2 <- syscall.EIO
			for range followers {
				require.ErrorIs(t, <-done, syscall.EIO, "every Sync whose data the failed pass held gets its error")
			}
			s := e.Stats()
			require.Equal(t, passes+1, s.Passes, "eight Syncs, one pass")
			require.Equal(t, int64(followers-1), s.SyncsJoined)

			flushes := gate.count()
			require.NoError(t, e.Sync(), "the data stayed dirty and goes out now")
			require.Greater(t, gate.count(), flushes)
			for i := 0; i <= followers; i++ {
				require.Equal(t, page(i), read(t, e, int64(i)*16<<10, 16<<10))
			}
		})
	}
}

// requireNone checks that no Sync has returned: none may before its
// pass's flush did.
func requireNone(t *testing.T, chs ...chan error) {
	t.Helper()
	time.Sleep(5 * time.Millisecond)
	for _, ch := range chs {
		select {
		case err := <-ch:
			t.Fatalf("a Sync returned (%v) before the flush of its pass", err)
		default:
		}
	}
}

// TestSyncJoinsThePassUnderWay: a Sync whose writes the pass under way
// already holds waits for that pass and runs none of its own; a Sync after
// a later write waits for the next one.
func TestSyncJoinsThePassUnderWay(t *testing.T) {
	e, gate := gatedEngine(t, false)
	ctx := context.Background()
	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{1}, 4096), 0, true))
	entered, release := gate.arm()
	first := make(chan error, 1)
	go func() { first <- e.Sync() }()
	<-entered

	covered := make(chan error, 1)
	go func() { covered <- e.Sync() }() // nothing written since the pass's snapshot
	require.Eventually(t, func() bool {
		e.syncMu.Lock()
		defer e.syncMu.Unlock()
		return e.running != nil && e.running.syncs == 2
	}, 5*time.Second, time.Millisecond)
	passes := e.Stats().Passes
	release <- nil
	require.NoError(t, <-first)
	require.NoError(t, <-covered)
	require.Equal(t, passes, e.Stats().Passes, "the covered Sync ran no pass")

	require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{2}, 4096), 4096, true))
	require.NoError(t, e.Sync())
	require.Equal(t, passes+1, e.Stats().Passes)
}

// TestLeaderGathersTheLastCommitters: after a pass that carried three
// Syncs, the next leader waits for three before it takes its snapshot,
// so that one pass carries them all; a lone committer after a pass that
// carried one does not wait.
func TestLeaderGathersTheLastCommitters(t *testing.T) {
	e, _ := gatedEngine(t, false)
	e.maxGather = time.Minute // the test, not the window, ends the wait
	ctx := context.Background()
	e.syncMu.Lock()
	e.lastSyncs, e.lastEnd, e.lastDur = 3, time.Now(), time.Minute
	e.syncMu.Unlock()
	passes := e.Stats().Passes

	done := make(chan error, 3)
	for i := range 3 {
		require.NoError(t, e.Write(ctx, bytes.Repeat([]byte{byte(i + 1)}, 4096), int64(i)*4096, true))
		go func() { done <- e.Sync() }()
		if i == 0 {
			require.Eventually(t, func() bool { return e.nextSyncs() == 1 }, 5*time.Second, time.Millisecond)
			requireNone(t, done) // the leader waits for the other two
		}
	}
	for range 3 {
		require.NoError(t, <-done)
	}
	s := e.Stats()
	require.Equal(t, passes+1, s.Passes, "one pass for the three")
	require.Equal(t, int64(1), s.Gathered)

	// That pass carried three; now one Sync alone: it waits for the
	// window (here a minute, were it to wait) only while others may come.
	e.syncMu.Lock()
	e.lastSyncs = 1
	e.syncMu.Unlock()
	start := time.Now()
	require.NoError(t, e.Write(ctx, []byte{9}, 0, true))
	require.NoError(t, e.Sync())
	require.Less(t, time.Since(start), 30*time.Second, "a lone committer does not wait")
	require.Equal(t, int64(0), e.Stats().GatherTimeouts)
}

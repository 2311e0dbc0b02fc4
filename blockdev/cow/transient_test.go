package cow

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// Transient faults (issue 11): an inner write, flush or read fails once,
// then the inner device works again. The contract: the failing call
// returns an error wrapping the inner error (and ErrFailed when a write or
// flush failed); the next mutating call (WriteAt, CommitBatch, Flush,
// CleanAhead) first re-runs recovery from the inner device and, as the
// device works, succeeds; reads keep working throughout. Writes flushed
// before the fault are kept; writes acknowledged but not flushed may or
// may not survive, each whole. A caller like a page cache therefore
// re-issues every write since its last successful Flush after an error,
// then flushes, and has everything.

type stepKind uint8

const (
	stepOp    stepKind = iota // a wop: write, batch or flush
	stepRead                  // a read of the whole device (fragmented: defragmentation)
	stepClean                 // CleanAhead
)

type step struct {
	kind stepKind
	op   wop
}

// transientScript is a workload of user writes, batches and flushes with
// whole-device reads (which defragment) and CleanAhead calls between them.
func transientScript(nblocks int64, l blockdev.Limits) []step {
	var steps []step
	for i, o := range genOps(13, 60, nblocks, l) {
		steps = append(steps, step{kind: stepOp, op: o})
		if i%3 == 2 {
			steps = append(steps, step{kind: stepRead})
		}
		if i%12 == 11 {
			steps = append(steps, step{kind: stepClean})
		}
	}
	return steps
}

// pageCache drives a device like a cache above it would, and keeps the
// model: the owner of every block as acknowledged, as of the last
// successful flush, and the writes since.
type pageCache struct {
	d        *Device
	bs       int64
	cur      []uint64
	durable  []uint64
	pending  []wop         // acknowledged since the last successful flush
	fired    *blockdev.Op  // the faulted inner operation, once it came
	errno    syscall.Errno // the errno the fault simulates
	recovers int           // errors after which the cache re-issued its writes
	readBuf  []byte
	resizes  []uint64 // a run without a fault: the inner resizes, by index after Format
}

func (c *pageCache) apply(o wop, cur []uint64) {
	for _, p := range o.pieces {
		for b := p.Off / c.bs; b < (p.Off+int64(len(p.Data)))/c.bs; b++ {
			cur[b] = o.id
		}
	}
}

// checkErr checks an error a call returned: it must carry the inner
// error, and ErrFailed when the faulted operation was a write or flush.
func (c *pageCache) checkErr(what string, err error) error {
	switch {
	case c.fired == nil:
		return fmt.Errorf("%s failed before any fault: %w", what, err)
	case !errors.Is(err, c.errno):
		return fmt.Errorf("%s: the error does not wrap %v: %w", what, c.errno, err)
	case c.fired.Kind != blockdev.OpRead && !errors.Is(err, ErrFailed):
		return fmt.Errorf("%s: the inner %v failed but the error does not wrap ErrFailed: %w", what, c.fired.Kind, err)
	}
	return nil
}

// reissue re-issues every write since the last successful flush (and the
// failed one, if any), then flushes, up to 3 times.
func (c *pageCache) reissue(cause error, failed *wop) error {
	c.recovers++
	if failed != nil && len(failed.pieces) > 0 {
		c.pending = append(c.pending, *failed)
		c.apply(*failed, c.cur)
	}
	var last error
	for range 3 {
		last = nil
		for _, o := range c.pending {
			if err := o.apply(c.d); err != nil {
				last = fmt.Errorf("re-issuing %v: %w", o, err)
				break
			}
		}
		if last == nil {
			if last = c.d.Flush(); last == nil {
				c.durable, c.pending = slices.Clone(c.cur), nil
				return nil
			}
		}
	}
	return fmt.Errorf("after %v: re-issuing %d writes and flushing failed 3 times, last: %w", cause, len(c.pending), last)
}

// prefixes are the states a recovery may show now: the durable one, then
// after each pending write in turn, then after failed.
func (c *pageCache) prefixes(failed *wop) [][]uint64 {
	s := [][]uint64{slices.Clone(c.durable)}
	ops := c.pending
	if failed != nil {
		ops = append(slices.Clone(ops), *failed)
	}
	for _, o := range ops {
		next := slices.Clone(s[len(s)-1])
		c.apply(o, next)
		s = append(s, next)
	}
	return s
}

// checkRead reads the whole device: every block must hold what one of
// the states (prefixes) has there.
func (c *pageCache) checkRead(states [][]uint64) error {
	if c.readBuf == nil {
		c.readBuf = blockdev.AlignedBuffer(int(c.d.Size()), c.d.Limits().MemAlign)
	}
	buf := c.readBuf
	if _, err := c.d.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return checkBlocks(buf, c.bs, states)
}

// checkBlocks checks that every block of img holds data some state has
// there, stamped by crashmodel.Fill (zeros for 0).
func checkBlocks(img []byte, bs int64, states [][]uint64) error {
	want := make([]byte, bs)
	for b := range int64(len(img)) / bs {
		got := img[b*bs : (b+1)*bs]
		id := crashmodel.WordID(binary.LittleEndian.Uint64(got))
		clear(want)
		if id != 0 {
			crashmodel.Fill(want, id, b*bs)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("block %d holds data nobody wrote", b)
		}
		ok := false
		for _, s := range states {
			ok = ok || s[b] == id
		}
		if !ok {
			return fmt.Errorf("block %d holds the data of write %d, no state allows that", b, id)
		}
	}
	return nil
}

// crashCheck opens a crash image of mem and checks it shows one of states.
func crashCheck(mem *blockdev.Mem, cfg blockdev.CrashConfig, states [][]uint64) error {
	d, err := Open(mem.CrashClone(cfg), Options{})
	if err != nil {
		return fmt.Errorf("open a crash image (%+v): %w", cfg, err)
	}
	got, err := owners(d)
	if err != nil {
		return fmt.Errorf("crash image (%+v): %w", cfg, err)
	}
	for _, s := range states {
		if slices.Equal(got, s) {
			return nil
		}
	}
	return fmt.Errorf("crash image (%+v) shows none of the %d states allowed", cfg, len(states))
}

// runTransient runs the script on a new device (over newDev) whose inner
// operation k (counted from after Format) fails once with inj; nil
// injects nothing. It returns the cache, the Mem, the number of inner
// operations after Format and the first broken promise.
func runTransient(t *testing.T, newDev func(require.TestingT) *blockdev.Mem, steps []step, k uint64, inj error, errno syscall.Errno) (*pageCache, *blockdev.Mem, uint64, error) {
	mem := newDev(t)
	fd := blockdev.WithFaults(mem, nil)
	d, err := Format(fd, smallOptions)
	require.NoError(t, err)
	start := fd.Ops()
	nblocks := d.Size() / int64(d.Limits().BlockSize)
	c := &pageCache{d: d, bs: int64(d.Limits().BlockSize), cur: make([]uint64, nblocks), durable: make([]uint64, nblocks),
		errno: errno}
	if inj != nil {
		at := start + k
		fd.SetInjector(blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Index != at {
				return nil
			}
			c.fired = &op
			return inj
		}))
	} else {
		fd.SetInjector(blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Kind == blockdev.OpWrite && op.Len == 0 { // a Resize (see FaultDevice)
				c.resizes = append(c.resizes, op.Index-start)
			}
			return nil
		}))
	}
	// afterError: reads still work and a crash now recovers a prefix from
	// the durable state; then the cache re-issues its writes.
	afterError := func(what string, err error, failed *wop) error {
		if err := c.checkErr(what, err); err != nil {
			return err
		}
		states := c.prefixes(failed)
		if rerr := c.checkRead(states); rerr != nil {
			return fmt.Errorf("after %s failed (%v): %w", what, err, rerr)
		}
		if err := crashCheck(mem, blockdev.CrashConfig{Seed: k, Survive: 0.5}, states); err != nil {
			return fmt.Errorf("after %s failed: %w", what, err)
		}
		return c.reissue(err, failed)
	}
	for i, s := range steps {
		switch s.kind {
		case stepOp:
			if err := s.op.apply(d); err != nil {
				if err := afterError(fmt.Sprintf("step %d: %v", i, s.op), err, &s.op); err != nil {
					return c, mem, 0, err
				}
				continue
			}
			if len(s.op.pieces) > 0 {
				c.apply(s.op, c.cur)
				c.pending = append(c.pending, s.op)
			}
			if s.op.durable() {
				c.durable, c.pending = slices.Clone(c.cur), nil
			}
		case stepRead:
			states := c.prefixes(nil)
			if err := c.checkRead(states); err != nil {
				if c.fired == nil || c.fired.Kind != blockdev.OpRead || !errors.Is(err, errno) {
					return c, mem, 0, fmt.Errorf("step %d: %w", i, err)
				}
				if err := c.checkRead(states); err != nil { // the fault was this read's
					return c, mem, 0, fmt.Errorf("step %d, the read again: %w", i, err)
				}
			}
		case stepClean:
			if _, err := d.CleanAhead(); err != nil {
				if err := afterError(fmt.Sprintf("step %d: CleanAhead", i), err, nil); err != nil {
					return c, mem, 0, err
				}
			}
		}
	}
	if err := d.Flush(); err != nil {
		if err := afterError("the final Flush", err, nil); err != nil {
			return c, mem, 0, err
		}
	}
	c.durable, c.pending = slices.Clone(c.cur), nil
	total := fd.Ops() - start // the checks below do not count
	want := [][]uint64{c.cur}
	if got, err := owners(d); err != nil {
		return c, mem, 0, fmt.Errorf("at the end: %w", err)
	} else if !slices.Equal(got, c.cur) {
		return c, mem, 0, errors.New("at the end the device does not hold what was written")
	}
	for _, cfg := range []blockdev.CrashConfig{{Survive: 0}, {Seed: k, Survive: 0.5}} {
		if err := crashCheck(mem, cfg, want); err != nil {
			return c, mem, 0, fmt.Errorf("at the end: %w", err)
		}
	}
	return c, mem, total, nil
}

// transientErrs are the faults injected, each once.
var transientErrs = []struct {
	name  string
	err   error
	errno syscall.Errno
}{{"ENOSPC", blockdev.ErrInjectedENOSPC, syscall.ENOSPC}, {"EIO", blockdev.ErrInjectedEIO, syscall.EIO}}

// TestTransientFaultAtEveryIndex fails, once, every inner operation
// (read, write, flush) of a workload of user writes, batches, flushes,
// checkpoints, cleaning (in commits and CleanAhead) and read-triggered
// defragmentation, with ENOSPC and separately EIO; then of an Open. See
// the contract above. After an error the test re-issues, like a page
// cache, every write since the last successful Flush and flushes (up to 3
// times), which must succeed; the device must then hold exactly what was
// written, and so must crash images of it. An Open that failed must
// succeed when retried on the working device, with the state intact.
func TestTransientFaultAtEveryIndex(t *testing.T) {
	t.Parallel()
	transientSweep(t, newSmallMem, sized[uint64](17, 7, 1))
}

// TestTransientFaultGrowingFile is TestTransientFaultAtEveryIndex over a
// container that grows its file (newSmallFile), faulting every resize
// that grows or cuts it (FaultDevice offers a Resize as a write) and
// every 41st other operation (every one with UNTORN_LONG=1). A failed
// growth is a failed write (ErrFailed, then recovery); a failed cut is an
// optimisation lost, reported by nothing.
func TestTransientFaultGrowingFile(t *testing.T) {
	t.Parallel()
	transientSweep(t, newSmallFile, sized[uint64](41, 41, 1))
}

// transientSweep runs the transient-fault campaign over devices from
// newDev, faulting every stride-th inner operation of the workload and
// every one of the Open after it.
func transientSweep(t *testing.T, newDev func(require.TestingT) *blockdev.Mem, stride uint64) {
	probe, err := Format(newSmallMem(t), smallOptions)
	require.NoError(t, err)
	nblocks := probe.Size() / int64(probe.Limits().BlockSize)
	steps := transientScript(nblocks, probe.Limits())

	// A run without faults counts the operations and shows that the
	// workload does what it should.
	clean, mem, total, err := runTransient(t, newDev, steps, 0, nil, 0)
	require.NoError(t, err)
	st := clean.d.Stats()
	require.Greater(t, st.Checkpoints, int64(2), "the workload must checkpoint")
	require.Positive(t, st.CleanedBlocks, "the workload must clean")
	require.Positive(t, st.DefragBlocks, "the workload's reads must defragment")

	runs, faulted, recovered := 0, 0, 0
	var fail failures
	byKind := map[string]cutTal{} // by the kind of the faulted operation
	for k := range total {
		// Every stride-th operation, and every resize.
		if k%stride != 0 && !slices.Contains(clean.resizes, k) {
			continue
		}
		for _, e := range transientErrs {
			runs++
			c, _, _, err := runTransient(t, newDev, steps, k, e.err, e.errno)
			if c.fired != nil {
				faulted++
			}
			kind := firedKind(c)
			tally := byKind[kind]
			tally.images++
			if err != nil {
				tally.failed++
				byKind[kind] = tally
				fail.addKind(transientKind(err), fmt.Sprintf("%s at inner operation %d (%s): %v", e.name, k, kind, err))
				continue
			}
			byKind[kind] = tally
			if c.recovers > 0 {
				recovered++
			}
		}
	}
	t.Logf("workload: %d steps, %d inner operations after Format; %d runs (%d faulted, %d with an error the cache recovered from)",
		len(steps), total, runs, faulted, recovered)
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		t.Logf("fault on a %s: %d of %d runs fail", kind, byKind[kind].failed, byKind[kind].images)
	}
	fail.report(t, runs, "runs with a fault in the workload")

	// Open: the device as the run left it, with two more writes not
	// flushed, so that recovery replays records.
	want := slices.Clone(clean.cur)
	for i, lb := range []int64{1, nblocks - 3} {
		o := wop{kind: opBatch, id: 1000 + uint64(i), pieces: []blockdev.Piece{{Off: lb * clean.bs, Data: make([]byte, 2*clean.bs)}}}
		crashmodel.Fill(o.pieces[0].Data, o.id, o.pieces[0].Off)
		require.NoError(t, o.apply(clean.d))
		clean.apply(o, want)
	}
	img := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
	counter := blockdev.WithFaults(img.CrashClone(blockdev.CrashConfig{Survive: 1}), nil)
	_, err = Open(counter, Options{})
	require.NoError(t, err)
	var openFail failures
	openRuns := 0
	for j := range counter.Ops() {
		for _, e := range transientErrs {
			openRuns++
			if err := transientOpen(img.CrashClone(blockdev.CrashConfig{Survive: 1}), j, e.err, e.errno, want); err != nil {
				openFail.add("%s at inner operation %d of Open: %v", e.name, j, err)
			}
		}
	}
	t.Logf("Open: %d inner operations, %d runs", counter.Ops(), openRuns)
	openFail.report(t, openRuns, "runs with a fault in Open")
}

// transientKind classifies a failure of runTransient for the report.
func transientKind(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "re-issuing") && errors.Is(err, ErrFailed) {
		return "the device still refuses writes with ErrFailed after the fault (re-issue and Flush failed 3 times)"
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "step") {
		msg = msg[strings.Index(msg, ": ")+2:]
	}
	return msg
}

func firedKind(c *pageCache) string {
	switch {
	case c.fired == nil:
		return "not reached"
	case c.fired.Kind == blockdev.OpWrite && c.fired.Len == 0:
		return "resize" // the only write of no bytes (see FaultDevice)
	}
	return c.fired.Kind.String()
}

// transientOpen opens img through a fault at its j-th inner operation:
// if Open fails, the error must carry the errno and Open again on the
// working device must succeed. Either way the device must show want, take
// a durable write, and a crash image of it must show both.
func transientOpen(img *blockdev.Mem, j uint64, inj error, errno syscall.Errno, want []uint64) error {
	fd := blockdev.WithFaults(img, blockdev.AtIndex(j, inj))
	d, err := Open(fd, Options{})
	if err != nil {
		if !errors.Is(err, errno) {
			return fmt.Errorf("Open: the error does not wrap %v: %w", errno, err)
		}
		if d, err = Open(fd, Options{}); err != nil {
			return fmt.Errorf("Open again on the working device: %w", err)
		}
	}
	got, err := owners(d)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return errors.New("the device does not show the state before the fault")
	}
	bs := int64(d.Limits().BlockSize)
	o := wop{kind: opBatch, id: 2000, flags: blockdev.FUA, pieces: []blockdev.Piece{{Off: 4 * bs, Data: make([]byte, bs)}}}
	crashmodel.Fill(o.pieces[0].Data, o.id, o.pieces[0].Off)
	if err := o.apply(d); err != nil {
		return fmt.Errorf("a write after Open: %w", err)
	}
	after := slices.Clone(want)
	after[4] = o.id
	return crashCheck(img, blockdev.CrashConfig{Survive: 0}, [][]uint64{after})
}

package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// oneFault fails the n-th operation (reads, writes and flushes of both
// devices, counted together) with err, once: a fault that goes away.
type oneFault struct {
	n, seen atomic.Int64
	err     error
	fired   atomic.Bool
	op      atomic.Value // the operation that failed
}

func (f *oneFault) MaybeError(op blockdev.Op) error {
	if f.seen.Add(1)-1 == f.n.Load() {
		f.fired.Store(true)
		f.op.Store(op)
		return f.err
	}
	return nil
}

// faultRun runs workload w with the n-th I/O failing once with err, the
// way the writeback engine uses the device: a commit that fails is sent
// again; a flush that fails fails every transaction since the last good
// one, and they are all sent again (their data is still dirty) before the
// next flush; a failed checkpoint is tried again at the next. It checks
// that every error wraps err, that reads always show the file, and that
// after a last flush a power cut recovers the whole file. It reports
// whether the fault fired, and how many units went in place.
func faultRun(t testing.TB, w workload, n int64, err error) (bool, int64, error) {
	f := &oneFault{err: err}
	f.n.Store(-1)
	opts := w.options()
	dl := blockdev.LimitsNone
	if w.inPlace {
		dl = blockdev.LimitsNVMe // 16 KiB in hardware
	}
	data, _ := blockdev.NewMem(w.dataSize, dl)
	jrnl, _ := blockdev.NewMem(hdrCopies*testBS+opts.Capacity, blockdev.LimitsNone)
	r := &rig{data: data, jrnl: jrnl, opts: opts}
	r.wire(f)
	d, ferr := Format(r.fd, r.fj, opts)
	if ferr != nil {
		return false, 0, ferr
	}
	r.d = d
	var inPlace int64 // units the device wrote in place, by the end
	defer func() { _ = r.d.Close() }()
	f.seen.Store(0)
	f.n.Store(n)
	injected := func(op string, e error) error {
		if !errors.Is(e, blockdev.ErrInjected) || !errors.Is(e, err.(interface{ Unwrap() []error }).Unwrap()[1]) {
			return fmt.Errorf("%s: %w is not the injected error", op, e)
		}
		return nil
	}
	type txn struct {
		pieces    []blockdev.Piece
		cut, size int64
		unit      bool // one unit (CommitUnits): the pieces; cut unused
	}
	// send commits a transaction. A unit sent again grows the file to at
	// least its size, never cuts it (as the engine sends it again).
	send := func(x txn) error {
		if x.unit {
			return r.d.CommitUnits([][]blockdev.Piece{x.pieces}, nil, max(x.size, r.d.FileSize()), 0)
		}
		return r.d.CommitSized(x.pieces, x.cut, x.size, 0)
	}
	rng := rand.New(rand.NewPCG(w.seed, 7))
	cur := fileModel{content: make([]byte, w.dataSize)}
	var pending []txn // since the last good flush
	// retry is what the engine does after any failure of a pass: once the
	// fault has gone, every transaction since the last good flush (their
	// data is still dirty) goes again, then a flush.
	retry := func(op string, e error) error {
		if e := injected(op, e); e != nil {
			return e
		}
		for {
			var err error
			for _, x := range pending {
				if err = send(x); err != nil {
					break
				}
			}
			if err == nil {
				if err = r.d.Flush(); err == nil {
					pending = pending[:0]
					return nil
				}
			}
			if e := injected(op+", again", err); e != nil {
				return e
			}
		}
	}
	for range w.steps {
		var e error
		op := "commit"
		switch k := rng.IntN(10); {
		case k < 7 && w.inPlace && rng.IntN(3) > 0:
			unit, size := randomUnit(rng, cur.size, w.dataSize)
			x := txn{pieces: unit, size: size, unit: true}
			pending = append(pending, x)
			cur.apply(unit, cur.size, size)
			e = send(x)
		case k < 7:
			pieces, cut, size := randomTxn(rng, cur.size, w.dataSize)
			pending = append(pending, txn{pieces: pieces, cut: cut, size: size})
			cur.apply(pieces, cut, size)
			e = r.d.CommitSized(pieces, cut, size, 0)
		case k < 9:
			op = "flush"
			if e = r.d.Flush(); e == nil {
				pending = pending[:0]
			}
		default:
			op = "checkpoint"
			if e = r.d.Checkpoint(); e == nil {
				pending = pending[:0]
			}
		}
		if e != nil {
			if e := retry(op, e); e != nil {
				return f.fired.Load(), inPlace, e
			}
		}
		for {
			img, e := readImage(r.d)
			if e == nil {
				if !img.equal(cur) {
					return f.fired.Load(), inPlace, fmt.Errorf("read-your-writes: the device differs from the file (the fault: %+v)", f.op.Load())
				}
				break
			}
			if e := injected("read", e); e != nil {
				return f.fired.Load(), inPlace, e
			}
		}
	}
	if e := r.d.Flush(); e != nil {
		if e := retry("last flush", e); e != nil {
			return f.fired.Load(), inPlace, e
		}
	}
	inPlace = r.d.Stats().InPlaceWrites
	mems := r.cut(blockdev.CrashConfig{})
	for {
		r2, e := reopen(t, blockdev.CrashCloneAll(blockdev.CrashConfig{Survive: 1}, mems...), opts, f)
		if e != nil {
			if e := injected("recover", e); e != nil {
				return f.fired.Load(), inPlace, e
			}
			continue // the fault went away: recover again
		}
		img, e := readImage(r2.d)
		_ = r2.d.Close()
		if e != nil {
			if e := injected("read after recovery", e); e != nil {
				return f.fired.Load(), inPlace, e
			}
			continue
		}
		if !img.equal(cur) {
			return f.fired.Load(), inPlace, errors.New("after the last flush and a power cut the file differs")
		}
		return f.fired.Load(), inPlace, nil
	}
}

// TestTransientFaultAtEveryIndex fails each I/O of a workload in turn
// (commits, flushes, checkpoints' reads and writes, the recovery at the
// end) once with EIO (and ENOSPC, on more seeds, with UNTORN_LONG=1; the
// journal treats both alike): the error reaches its caller wrapped, the
// next try after the fault went away succeeds, nothing is lost or torn.
func TestTransientFaultAtEveryIndex(t *testing.T) {
	t.Parallel()
	errs := []error{blockdev.ErrInjectedEIO}
	if testsize.Long() {
		errs = append(errs, blockdev.ErrInjectedENOSPC)
	}
	for _, e := range errs {
		errno := e.(interface{ Unwrap() []error }).Unwrap()[1]
		for seed := range uint64(testsize.Pick(1, 4)) {
			w := workload{seed: seed, steps: testsize.Pick(14, 30), dataSize: 64 * testBS, area: 20}
			fired := 0
			for n := int64(0); ; n++ {
				ok, _, err := faultRun(t, w, n, e)
				require.NoError(t, err, "%v at I/O %d, seed %d", e, n, seed)
				if !ok {
					break
				}
				fired++
			}
			require.Greater(t, fired, 40, "the workload did too little I/O")
			t.Logf("%v, seed %d: a fault at each of %d I/Os", errno, seed, fired)
		}
	}
}

// TestTransientFaultAtEveryIndexInPlace is TestTransientFaultAtEveryIndex
// with units written in place (16 KiB hardware atomic writes) among the
// transactions: a failed in-place write or flush of the data device is
// reported, and sending the data again leaves nothing lost or torn.
func TestTransientFaultAtEveryIndexInPlace(t *testing.T) {
	t.Parallel()
	for seed := range uint64(testsize.Pick(1, 4)) {
		w := workload{seed: seed, steps: testsize.Pick(14, 30), dataSize: 64 * testBS, area: 20, inPlace: true}
		fired := 0
		for n := int64(0); ; n++ {
			ok, inPlace, err := faultRun(t, w, n, blockdev.ErrInjectedEIO)
			require.NoError(t, err, "EIO at I/O %d, seed %d", n, seed)
			if !ok { // the run without a fault
				require.Positive(t, inPlace, "no unit went in place")
				t.Logf("seed %d: %d units in place", seed, inPlace)
				break
			}
			fired++
		}
		require.Greater(t, fired, 40, "the workload did too little I/O")
		t.Logf("seed %d: a fault at each of %d I/Os", seed, fired)
	}
}

package journal

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// workload is a seeded run of transactions, flushes and checkpoints on a
// rig.
type workload struct {
	seed     uint64
	steps    int
	dataSize int64 // the data Mem, and the file's capacity
	area     int64 // journal blocks
	brk      Breakage
	// inPlace: the data device does 16 KiB in hardware (LimitsNVMe) and
	// the journal writes units in place (Options.InPlace); two thirds of
	// the transactions are one unit (CommitUnits), and every transaction is
	// flushed at once, so that the states stay a sequence (units in place
	// and records are not ordered between flushes).
	inPlace bool
	// afterEvery: campaign runs a second workload on the recovery of
	// every afterEvery-th cut.
	afterEvery int
}

func (w workload) options() Options {
	o := testOptions(w.area)
	o.Break = w.brk
	o.InPlace = w.inPlace
	return o
}

// cutResult is what a workload cut by its CrashPoint left: the devices at
// the cut, and which states a recovery may show.
type cutResult struct {
	mems     []*blockdev.Mem
	states   []fileModel
	from, to int // a recovery must show one of states[from..to]
}

// run runs w on r (a new rig when r is nil; its file then starts empty,
// else as base); arm (if not nil) arms the rig's CrashPoint first. After
// each step, check (if not nil) is told which states a power cut during
// that step may show (states[from..to]). It returns the states (after
// each committed transaction) and the cut if the CrashPoint took one. It
// closes the rig.
func (w workload) run(t testing.TB, r *rig, base fileModel, arm func(*rig), check func(states []fileModel, from, to int) error) ([]fileModel, *cutResult, error) {
	if r == nil {
		r = newRig(t, w.dataSize, w.options())
		base = fileModel{content: make([]byte, w.dataSize)}
	}
	defer func() { _ = r.d.Close() }()
	if arm != nil {
		arm(r)
	}
	rng := rand.New(rand.NewPCG(w.seed, 7))
	cur := base.clone()
	states := []fileModel{cur.clone()}
	durable := 0
	for range w.steps {
		before := durable
		switch k := rng.IntN(10); {
		case k < 7 && w.inPlace && rng.IntN(3) > 0:
			unit, size := randomUnit(rng, cur.size, w.dataSize)
			if err := r.d.CommitUnits([][]blockdev.Piece{unit}, nil, size, blockdev.FUA); err != nil {
				return nil, nil, fmt.Errorf("commit a unit: %w", err)
			}
			cur.apply(unit, cur.size, size)
			states = append(states, cur.clone())
			durable = len(states) - 1
		case k < 7:
			pieces, cut, size := randomTxn(rng, cur.size, w.dataSize)
			flags := blockdev.Flags(0)
			if w.inPlace {
				flags = blockdev.FUA
			}
			if err := r.d.CommitSized(pieces, cut, size, flags); err != nil {
				return nil, nil, fmt.Errorf("commit: %w", err)
			}
			cur.apply(pieces, cut, size)
			states = append(states, cur.clone())
			if w.inPlace {
				durable = len(states) - 1
			}
		case k < 9 && !w.inPlace: // (in place, every commit is flushed: checkpoint instead)
			if err := r.d.Flush(); err != nil {
				return nil, nil, fmt.Errorf("flush: %w", err)
			}
			durable = len(states) - 1
		default:
			if err := r.d.Checkpoint(); err != nil {
				return nil, nil, fmt.Errorf("checkpoint: %w", err)
			}
			durable = len(states) - 1
		}
		if img, err := readImage(r.d); err != nil || !img.equal(cur) {
			return nil, nil, fmt.Errorf("read-your-writes: the device differs from the file after %d transactions (%v)", len(states)-1, err)
		}
		if check != nil {
			if err := check(states, before, len(states)-1); err != nil {
				return states, nil, err
			}
		}
		if r.crash.Fired() {
			mems, _ := r.crash.TakeAll()
			return states, &cutResult{mems: mems, states: states, from: before, to: len(states) - 1}, nil
		}
	}
	return states, nil, nil
}

// cutter is an Injector that cuts the power of a rig's devices before
// every write and flush (never failing one): one run of a workload yields
// a crash image at every device operation, the chance of survival of the
// volatile writes rotating through survive (every one of them at every
// operation with all).
type cutter struct {
	mems    []*blockdev.Mem
	survive []float64
	all     bool
	seed    uint64
	mu      sync.Mutex // guards n and cuts
	n       uint64
	cuts    [][]*blockdev.Mem // taken since the last take
}

func (c *cutter) MaybeError(op blockdev.Op) error {
	if op.Kind == blockdev.OpRead {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	survive := c.survive
	if !c.all {
		survive = survive[c.n%uint64(len(survive)) : c.n%uint64(len(survive))+1]
	}
	for _, s := range survive {
		c.cuts = append(c.cuts, blockdev.CrashCloneAll(blockdev.CrashConfig{Seed: c.seed + c.n, Survive: s}, c.mems...))
		c.n++
	}
	return nil
}

// take returns the cuts since the last take.
func (c *cutter) take() [][]*blockdev.Mem {
	c.mu.Lock()
	defer c.mu.Unlock()
	cuts := c.cuts
	c.cuts = nil
	return cuts
}

// recoverCut recovers a copy of a cut image and returns the rig and the
// index of the allowed state it shows.
func recoverCut(t testing.TB, c *cutResult, opts Options) (*rig, fileModel, int, error) {
	work := blockdev.CrashCloneAll(blockdev.CrashConfig{Survive: 1}, c.mems...)
	r, err := reopen(t, work, opts, nil)
	if err != nil {
		return nil, fileModel{}, 0, fmt.Errorf("recover: %w", err)
	}
	img, err := readImage(r.d)
	if err != nil {
		_ = r.d.Close()
		return nil, fileModel{}, 0, fmt.Errorf("read after recovery: %w", err)
	}
	got, err := matchState(img, c.states[:c.to+1], c.from)
	if err != nil {
		_ = r.d.Close()
		return nil, fileModel{}, 0, err
	}
	return r, img, got, nil
}

// checkCut recovers a cut image and checks it shows an allowed state; then
// (depth > 0) cuts the power again at every write and flush of that
// recovery, recursing with depth-1 on one such image in three, and checks
// each of those images recovers to the same state. It returns the number
// of images checked.
func checkCut(t testing.TB, c *cutResult, opts Options, depth int) (int, error) {
	r, _, got, err := recoverCut(t, c, opts)
	if err != nil {
		return 1, err
	}
	if err := r.d.Close(); err != nil {
		return 1, fmt.Errorf("close after recovery: %w", err)
	}
	checked := 1
	for k := 0; depth > 0; k++ {
		work := blockdev.CrashCloneAll(blockdev.CrashConfig{Survive: 1}, c.mems...)
		r := &rig{data: work[0], jrnl: work[1], opts: opts}
		r.wire(nil)
		r.crash.Arm(k, blockdev.CrashConfig{Seed: uint64(k), Survive: 0.5})
		d, err := Open(r.fd, r.fj, opts)
		if err != nil {
			return checked, fmt.Errorf("recovery to be cut at %d: %w", k, err)
		}
		_ = d.Close()
		mems, ok := r.crash.TakeAll()
		if !ok {
			break // the recovery took fewer writes
		}
		sub := &cutResult{mems: mems, states: c.states, from: got, to: got}
		n, err := checkCut(t, sub, opts, min(depth-1, k%3))
		checked += n
		if err != nil {
			return checked, fmt.Errorf("cut %d inside the recovery: %w", k, err)
		}
	}
	return checked, nil
}

// campaign cuts the power of both devices at once before every write and
// flush of w, with three choices of which volatile writes survive (one of
// them at each operation, in turn, unless UNTORN_LONG=1), and
// checks every image (and cuts inside its recovery, see checkCut, for one
// cut in three). With after, the recovery of every afterEvery-th image
// then runs a second workload (seed+1000), cut the same way, whose images
// must keep the promises over the recovered file: nothing the first cut
// left behind may come back. It reports the images checked and the
// failures; with firstOnly it stops at the first failure (negative
// controls).
func campaign(t testing.TB, w workload, after, firstOnly bool) (images int, failures []error) {
	opts := w.options()
	k := 0
	check := func(c *cutter) func([]fileModel, int, int) error {
		return func(states []fileModel, from, to int) error {
			for _, mems := range c.take() {
				k++
				cr := &cutResult{mems: mems, states: states, from: from, to: to}
				n, err := checkCut(t, cr, opts, min(1, k%3))
				images += n
				if err != nil {
					failures = append(failures, fmt.Errorf("seed %d, cut %d: %w", w.seed, k, err))
				} else if after && k%w.afterEvery == 0 {
					n, errs := secondCampaign(t, w, cr)
					images += n
					failures = append(failures, errs...)
				}
				if firstOnly && len(failures) > 0 {
					return failures[0]
				}
			}
			return nil
		}
	}
	var c *cutter
	_, _, err := w.run(t, nil, fileModel{}, func(r *rig) {
		c = &cutter{mems: []*blockdev.Mem{r.data, r.jrnl}, survive: []float64{0, 0.5, 1}, all: testsize.Long(), seed: w.seed * 1000}
		r.setInjector(c)
	}, func(states []fileModel, from, to int) error { return check(c)(states, from, to) })
	if err != nil && (len(failures) == 0 || err != failures[0]) {
		failures = append(failures, fmt.Errorf("seed %d: %w", w.seed, err))
	}
	return images, failures
}

// secondCampaign runs a second workload on the recovery of cut c, cut
// before every one of its writes and flushes.
func secondCampaign(t testing.TB, w workload, c *cutResult) (int, []error) {
	opts := w.options()
	w2 := w
	w2.seed += 1000
	w2.steps = w.steps / 4
	r, base, _, err := recoverCut(t, c, opts)
	if err != nil {
		return 1, []error{err}
	}
	var failures []error
	images := 0
	cut := &cutter{mems: []*blockdev.Mem{r.data, r.jrnl}, survive: []float64{0.5}, seed: w2.seed}
	r.setInjector(cut)
	_, _, err = w2.run(t, r, base, nil, func(states []fileModel, from, to int) error {
		for _, mems := range cut.take() {
			n, err := checkCut(t, &cutResult{mems: mems, states: states, from: from, to: to}, opts, 0)
			images += n
			if err != nil {
				failures = append(failures, fmt.Errorf("seed %d, second workload: %w", w.seed, err))
			}
		}
		return nil
	})
	if err != nil {
		failures = append(failures, fmt.Errorf("second workload: %w", err))
	}
	return images, failures
}

// TestCrashAtEveryWrite runs the campaign on seeded workloads
// (transactions with cuts and sizes, flushes, checkpoints, a journal small
// enough to wrap and fill): every image must show the file after some
// prefix of the transactions, at least every one flushed before the cut,
// also after power cuts inside recovery and after a second workload on a
// recovered file.
func TestCrashAtEveryWrite(t *testing.T) {
	t.Parallel()
	images := 0
	for seed := range uint64(testsize.Pick(1, 12)) {
		w := workload{seed: seed, steps: 40, dataSize: 64 * testBS, area: 24, afterEvery: testsize.Pick(6, 4)}
		n, failures := campaign(t, w, true, false)
		images += n
		require.Empty(t, failures)
	}
	t.Logf("%d crash images checked (power cuts inside recovery and after a recovery included)", images)
}

// TestCrashAtEveryWriteInPlace runs the campaign with units written in
// place where the data device does them in hardware (16 KiB), mixed with
// transactions through the journal (cuts, sizes, units it cannot write
// whole): the units in place must never be overwritten by an older image
// or cut by an older cut, at any crash, also inside recoveries.
func TestCrashAtEveryWriteInPlace(t *testing.T) {
	t.Parallel()
	images, inPlace := 0, int64(0)
	for seed := range uint64(testsize.Pick(1, 12)) {
		w := workload{seed: seed, steps: testsize.Pick(24, 40), dataSize: 64 * testBS, area: 24, afterEvery: testsize.Pick(12, 4), inPlace: true}
		n, failures := campaign(t, w, true, false)
		images += n
		require.Empty(t, failures)
		inPlace += inPlaceOf(t, w)
	}
	require.Positive(t, inPlace, "no unit went in place")
	t.Logf("%d crash images checked; %d units in place", images, inPlace)
}

// inPlaceOf runs w uncut and returns the units it wrote in place.
func inPlaceOf(t *testing.T, w workload) int64 {
	r := newRig(t, w.dataSize, w.options())
	var n int64
	_, _, err := w.run(t, r, fileModel{content: make([]byte, w.dataSize)}, nil, func([]fileModel, int, int) error {
		n = r.d.Stats().InPlaceWrites
		return nil
	})
	require.NoError(t, err)
	return n
}

// randomUnit draws one untorn unit of 1, 2 or 4 blocks over a file of at
// most capacity bytes (inside the file three times in four), naturally
// aligned two times in three (in place
// when its blocks have no image in the journal), and the size it leaves
// (it may grow the file: through the journal then).
func randomUnit(rng *rand.Rand, cur, capacity int64) ([]blockdev.Piece, int64) {
	n := int64(1) << rng.IntN(3)
	b := rng.Int64N(capacity/testBS - n + 1)
	if in := cur/testBS - n + 1; in > 0 && rng.IntN(4) > 0 {
		b = rng.Int64N(in) // within the file: in place unless journaled
	}
	if rng.IntN(3) > 0 {
		b -= b % n
	}
	data := make([]byte, n*testBS)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var unit []blockdev.Piece
	for k := range n { // one piece per block, as folios come
		unit = append(unit, blockdev.Piece{Off: (b + k) * testBS, Data: data[k*testBS : (k+1)*testBS]})
	}
	return unit, max(cur, (b+n)*testBS)
}

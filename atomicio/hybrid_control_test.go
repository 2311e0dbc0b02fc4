package atomicio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/journal"
	"github.com/untorn/untorn/internal/testsize"
)

// The negative controls of the hybrid (journal mode under ModeAuto, units
// the data device writes in hardware in place): each breaks one thing
// the hybrid relies on and requires the crash oracle to catch it on fixed
// seeds, while the honest hybrid passes the same histories.

// hybridProfile is the hybrid over data and journal Mems of limits l; no
// background writeback or checkpoints, one write in flight, so a seed
// replays the same I/O.
func hybridProfile(l blockdev.Limits) profile {
	const cache = 1 << 20 // the dirty thresholds above all a history writes: passes only in Sync
	p := journalProfile("hybrid-control", l, Options{CacheSize: cache, FlushInterval: -1,
		BackgroundDirty: cache * 3 / 4, HardDirty: cache * 3 / 4, QueueDepth: 1}, false)
	p.size = 256 << 10
	return p
}

// runHybridHistory drives one seeded history on p: rounds of untorn
// writes, each a hardware unit (aligned, in place unless its pages are in
// the journal) or a small write across a unit boundary (through the
// journal), in the first 4 units of the file so that they overlap, a Sync
// after each round and a clean close and reopen after the third; then a
// power cut at the first flush of one more Sync
// (its units volatile) taken cutImages times, and one after it returned.
// tearAbove > 0 makes the data device tear untorn writes longer than that
// (Mem.BreakAtomicAbove: it reports more hardware than it has). It
// returns the oracle's first verdict against an image.
func runHybridHistory(p profile, seed uint64, tearAbove int) error {
	rng := rand.New(rand.NewPCG(seed, 23))
	m, err := newMachine(p)
	if err != nil {
		return err
	}
	if tearAbove > 0 {
		m[0].BreakAtomicAbove(tearAbove)
	}
	r, failure, err := recordingRun(p, m, seed)
	if err != nil {
		return err
	}
	defer func() { _ = r.s.f.Abandon() }()
	hw := int64(p.limits.AtomicHardwareMax)
	round := func() {
		for range 3 {
			slot := rng.Int64N(4)
			if rng.IntN(2) == 0 {
				r.write(slot*hw, int(hw), true)
			} else {
				r.write((slot%3+1)*hw-int64(1+rng.IntN(300)), 1+rng.IntN(600), true)
			}
		}
	}
	var inPlace, logged int64 // of the File before the reopen
	for i := range 4 {
		if i == 3 {
			st := r.s.f.Stats().Journal
			inPlace, logged = st.InPlaceWrites, st.RecordBytes
			// A clean close: its checkpoint writes every journaled image
			// home (over newer data, if one went in place over it), and the
			// rounds after it find the journal empty: their hardware
			// units go in place.
			r.closeReopen()
		}
		round()
		r.sync()
	}
	r.closeReopen()
	for slot := range int64(4) { // every unit whole, in place (the journal is empty)
		r.write(slot*hw, int(hw), true)
	}
	if *failure != nil {
		return *failure
	}
	mark := r.o.syncStarted()
	images, err := r.syncWithCut(seed)
	if err != nil {
		return err
	}
	images = append(images, r.s.m.cut(blockdev.CrashConfig{Seed: seed}))
	err = r.checkImages(images, func(i int) {
		if i == len(images)-1 {
			r.o.syncDone(mark) // the last image is after the Sync returned
		}
	})
	if err != nil {
		return err
	}
	st := r.s.f.Stats().Journal
	if inPlace, logged = inPlace+st.InPlaceWrites, logged+st.RecordBytes; inPlace == 0 || logged == 0 {
		return fmt.Errorf("the history took one path only: %d units in place, %d bytes in records", inPlace, logged)
	}
	return nil
}

// TestHybridCatchesInPlaceOverJournal: a unit written in place while a
// page of it still has an image in the journal (the rule broken,
// journal.BreakInPlaceOverJournal) is caught: the replay after the crash
// writes the older image over it (lost synced data, or a torn unit).
func TestHybridCatchesInPlaceOverJournal(t *testing.T) {
	t.Parallel()
	p := hybridProfile(blockdev.LimitsNVMe)
	broken := p
	broken.opts.journalBreak = journal.BreakInPlaceOverJournal
	seeds := testsize.Pick[uint64](2, 24)
	caught := 0
	for seed := range seeds {
		require.NoError(t, runHybridHistory(p, seed, 0), "the honest hybrid must pass (seed %d)", seed)
		err := runHybridHistory(broken, seed, 0)
		if seed < 4 { // these histories write a unit in place over a journaled page: each catches it (2 by default)
			require.Error(t, err, "the oracle must catch a unit in place over a journaled image (seed %d)", seed)
		}
		if err != nil {
			t.Logf("seed %d: caught: %v", seed, err)
			caught++
		}
	}
	require.GreaterOrEqual(t, caught, int(seeds)/2)
	t.Logf("in place over a journaled image caught in %d of %d histories", caught, seeds)
}

// TestHybridCatchesOverstatedHardware: a data device that reports 64 KiB
// hardware atomic writes but tears those above 16 KiB is caught tearing
// a unit the hybrid wrote in place.
func TestHybridCatchesOverstatedHardware(t *testing.T) {
	t.Parallel()
	p := hybridProfile(blockdev.LimitsNVMe64K)
	seeds := testsize.Pick[uint64](2, 24)
	caught := 0
	for seed := range seeds {
		require.NoError(t, runHybridHistory(p, seed, 0), "the honest device must pass (seed %d)", seed)
		err := runHybridHistory(p, seed, 16<<10)
		require.Error(t, err, "the oracle must catch a device tearing units it claims to write untorn (seed %d)", seed)
		require.True(t, errors.Is(err, errTornInOracle) || strings.Contains(err.Error(), "torn"), "seed %d: %v", seed, err)
		caught++
	}
	t.Logf("overstated hardware limit caught tearing in %d of %d histories", caught, seeds)
}

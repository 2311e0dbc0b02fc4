package atomicio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// cutImages is how many crash images runRandomHistory verifies at its
// power cut, each keeping another random half of the volatile writes.
const cutImages = 16

// runRandomHistory drives one random history with the oracle: untorn page
// writes at random (often unaligned) offsets, a Sync, more of them, and a
// power cut at the first flush of the next Sync, when every unit that
// Sync wrote is volatile. It verifies cutImages crash images of that
// moment and returns the oracle's first verdict against one.
//
// Each image keeps a random half of the volatile writes (an untorn unit
// whole or not at all; a plain write block by block), so an engine that
// writes a unit of several blocks plainly shows it torn in one of them
// but for a chance of 1/8 per unit and image: with 16 images and six
// units or more per Sync, every history catches it (the chance it does
// not is below 1e-80), whatever order the units went to the device in.
func runRandomHistory(p profile, seed uint64) (err error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m, err := newMachine(p)
	if err != nil {
		return err
	}
	r, failure, err := recordingRun(p, m, seed)
	if err != nil {
		return err
	}
	defer func() { _ = r.s.f.Abandon() }()
	for range 6 {
		n := 16 << 10
		off := rng.Int64N(r.s.f.Size() - int64(n))
		r.write(off, n, true)
	}
	r.sync()
	for range 6 {
		n := 16 << 10
		off := rng.Int64N(r.s.f.Size() - int64(n))
		r.write(off, n, true)
	}
	if *failure != nil {
		return *failure
	}
	images, err := r.syncWithCut(seed)
	if err != nil {
		return err
	}
	return r.checkImages(images, nil)
}

// recordingRun opens a File of profile p over machine m for a seeded
// history whose failures are recorded (the first one in *failure) rather
// than stopping it.
func recordingRun(p profile, m machine, seed uint64) (*oracleRun, *error, error) {
	s, err := openStack(p, m, seed)
	if err != nil {
		return nil, nil, err
	}
	failure := new(error)
	r := &oracleRun{p: p, s: s, o: newOracle(s.f.Size()), seed: seed,
		fail: func(format string, args ...any) {
			if *failure == nil {
				*failure = fmt.Errorf(format, args...)
			}
		}}
	return r, failure, nil
}

// syncWithCut runs a Sync and takes cutImages crash images at its first
// device flush, when everything it wrote is volatile, each keeping
// another random half of the volatile writes.
func (r *oracleRun) syncWithCut(seed uint64) ([]machine, error) {
	var mu sync.Mutex // the devices may be used concurrently
	var images []machine
	r.s.setInjector(blockdev.InjectorFunc(func(op blockdev.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if op.Kind == blockdev.OpFlush && images == nil {
			for i := range uint64(cutImages) {
				images = append(images, r.s.m.cut(blockdev.CrashConfig{Seed: seed*cutImages + i, Survive: 0.5}))
			}
		}
		return nil
	}))
	if err := r.s.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if images == nil {
		return nil, errors.New("the Sync flushed nothing")
	}
	return images, nil
}

// checkImages opens every image, reads it whole and returns the oracle's
// first verdict against one; before (if not nil) is called before the
// i-th is checked.
func (r *oracleRun) checkImages(images []machine, before func(i int)) error {
	for i, img := range images {
		f, _, err := img.open(r.p.opts, nil)
		if err != nil {
			return fmt.Errorf("image %d: open: %w", i, err)
		}
		got, err := readAll(f)
		_ = f.Abandon()
		if err != nil {
			return fmt.Errorf("image %d: read: %w", i, err)
		}
		if before != nil {
			before(i)
		}
		if err := r.o.check(got); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
	}
	return nil
}

// TestCrashOracleCatchesPlainUntorn is the negative control: an engine
// that writes untorn units with plain writes must be caught tearing them,
// in every history, while the honest engine passes the same histories.
func TestCrashOracleCatchesPlainUntorn(t *testing.T) {
	t.Parallel()
	p := oracleProfiles()[0]
	p.size = 256 << 10
	p.opts.FlushInterval = -1
	broken := p
	broken.opts.plainUntorn = true
	histories := testsize.Pick[uint64](6, 60)
	for seed := range histories {
		require.NoError(t, runRandomHistory(p, seed), "the honest engine must pass (seed %d)", seed)
		err := runRandomHistory(broken, seed)
		require.Error(t, err, "the oracle must catch an engine that tears untorn writes (seed %d)", seed)
		require.True(t, errors.Is(err, errTornInOracle) || strings.Contains(err.Error(), "torn"), "seed %d: %v", seed, err)
	}
	t.Logf("plain-writing engine caught tearing in each of %d histories", histories)
}

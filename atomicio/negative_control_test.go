package atomicio

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// runRandomHistory drives one random history with the oracle: untorn page
// writes at random (often unaligned) offsets, then a crash. It returns the
// oracle's verdict.
func runRandomHistory(p profile, seed uint64) (err error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m, err := newMachine(p)
	if err != nil {
		return err
	}
	s, err := openStack(p, m, seed)
	if err != nil {
		return err
	}
	var failure error
	r := &oracleRun{p: p, s: s, o: newOracle(s.f.Size()), seed: seed,
		fail: func(format string, args ...any) {
			if failure == nil {
				failure = fmt.Errorf(format, args...)
			}
		}}
	defer func() { _ = r.s.f.Abandon() }()
	for range 6 {
		n := 16 << 10
		off := rng.Int64N(s.f.Size() - int64(n))
		r.write(off, n, true)
	}
	r.sync()
	for range 6 {
		n := 16 << 10
		off := rng.Int64N(s.f.Size() - int64(n))
		r.write(off, n, true)
	}
	// Cut the power in the middle of the next Sync's writeback.
	r.crashInSync(1+rng.IntN(3), blockdev.CrashConfig{Seed: seed, Survive: 0.5})
	return failure
}

// TestCrashOracleCatchesPlainUntorn is the negative control: an engine
// that writes untorn units with plain writes must be caught tearing them.
func TestCrashOracleCatchesPlainUntorn(t *testing.T) {
	p := oracleProfiles()[0]
	p.size = 256 << 10
	p.opts.FlushInterval = -1
	broken := p
	broken.opts.plainUntorn = true
	caught := 0
	for seed := range uint64(60) {
		require.NoError(t, runRandomHistory(p, seed), "the honest engine must pass (seed %d)", seed)
		if err := runRandomHistory(broken, seed); err != nil {
			require.True(t, errors.Is(err, errTornInOracle) || strings.Contains(err.Error(), "torn"), "seed %d: %v", seed, err)
			caught++
		}
	}
	t.Logf("plain-writing engine caught tearing in %d of 60 histories", caught)
	require.GreaterOrEqual(t, caught, 30, "the oracle must catch an engine that tears untorn writes")
}

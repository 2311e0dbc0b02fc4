package crashmodel_test

import (
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
	"github.com/untorn/untorn/internal/rapidflag"
)

// How many rapid checks the crash-model property runs per profile: 150 by
// default, 2000 with UNTORN_LONG=1 (internal/testsize; it was 1000 in
// both); -rapid.checks or RAPID_CHECKS overrides both.
func TestMain(m *testing.M) {
	rapidflag.Sized(150, 2000)
	os.Exit(m.Run())
}

const testBlocks = 16 // device size in blocks for the property test

// genWrite draws a valid write for limits l on a device of size bytes.
func genWrite(t *rapid.T, l blockdev.Limits, size int64) (int64, int, blockdev.Flags) {
	var flags blockdev.Flags
	if l.HasAtomic() && rapid.Bool().Draw(t, "atomic") {
		flags |= blockdev.Atomic
	}
	if rapid.IntRange(0, 3).Draw(t, "fua") == 0 {
		flags |= blockdev.FUA
	}
	if flags&blockdev.Atomic != 0 {
		maxLen := min(l.AtomicMax, int(size)/2)
		var lens []int
		for n := l.AtomicMin; n <= maxLen; n *= 2 {
			lens = append(lens, n)
		}
		n := rapid.SampledFrom(lens).Draw(t, "len")
		off := int64(rapid.IntRange(0, int(size)/n-1).Draw(t, "unit")) * int64(n)
		return off, n, flags
	}
	bs := l.BlockSize
	nb := rapid.IntRange(1, 8).Draw(t, "blocks")
	off := int64(rapid.IntRange(0, int(size)/bs-nb).Draw(t, "block")) * int64(bs)
	return off, nb * bs, flags
}

func TestCrashModelProperty(t *testing.T) {
	var total atomic.Int64
	for name, l := range blockdev.MemProfiles() {
		t.Run(name, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				mem, err := blockdev.NewMem(testBlocks*int64(l.BlockSize), l)
				require.NoError(t, err)
				h, err := newHarness(mem)
				require.NoError(t, err)
				t.Repeat(map[string]func(*rapid.T){
					"write": func(t *rapid.T) {
						off, n, flags := genWrite(t, l, mem.Size())
						require.NoError(t, h.write(off, n, flags))
					},
					"flush": func(t *rapid.T) {
						require.NoError(t, h.flush())
					},
					"read": func(t *rapid.T) {
						bs := l.BlockSize
						nb := rapid.IntRange(1, testBlocks).Draw(t, "blocks")
						off := int64(rapid.IntRange(0, testBlocks-nb).Draw(t, "block")) * int64(bs)
						require.NoError(t, h.read(off, nb*bs))
					},
					"crash": func(t *rapid.T) {
						cfg := blockdev.CrashConfig{
							Seed:    rapid.Uint64().Draw(t, "seed"),
							Survive: rapid.SampledFrom([]float64{0, 0.25, 0.5, 0.75, 1}).Draw(t, "survive"),
						}
						require.NoError(t, h.crash(cfg))
					},
				})
				total.Add(int64(h.checks))
			})
		})
	}
	t.Logf("crash images verified: %d", total.Load())
}

// TestCrashModelRejectsBrokenDevices is the negative control: the checker
// the property test relies on must reject a device that tears atomic writes
// and one that forgets FUA. Each workload is driven by the same harness.
func TestCrashModelRejectsBrokenDevices(t *testing.T) {
	l := blockdev.LimitsXFS
	size := int64(testBlocks * l.BlockSize)

	t.Run("tears atomic writes", func(t *testing.T) {
		caught := 0
		for seed := uint64(0); seed < 50; seed++ {
			mem, err := blockdev.NewMem(size, l)
			require.NoError(t, err)
			h, err := newHarness(tearingDevice{mem})
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(seed, 1))
			for range 4 {
				unit := int64(16 << 10)
				off := rng.Int64N(size/unit) * unit
				require.NoError(t, h.write(off, int(unit), blockdev.Atomic))
			}
			err = h.crash(blockdev.CrashConfig{Seed: seed, Survive: 0.5})
			if err != nil {
				require.ErrorIs(t, err, crashmodel.ErrTorn)
				caught++
			}
		}
		require.Greater(t, caught, 25, "the checker missed torn atomic writes")
	})

	t.Run("forgets FUA", func(t *testing.T) {
		mem, err := blockdev.NewMem(size, l)
		require.NoError(t, err)
		h, err := newHarness(forgetfulDevice{mem})
		require.NoError(t, err)
		require.NoError(t, h.write(0, l.BlockSize, blockdev.FUA))
		require.ErrorIs(t, h.crash(blockdev.CrashConfig{Survive: 0}), crashmodel.ErrLost)
	})

	t.Run("honest device passes the same workloads", func(t *testing.T) {
		for seed := uint64(0); seed < 50; seed++ {
			mem, err := blockdev.NewMem(size, l)
			require.NoError(t, err)
			h, err := newHarness(mem)
			require.NoError(t, err)
			require.NoError(t, h.write(0, l.BlockSize, blockdev.FUA))
			rng := rand.New(rand.NewPCG(seed, 1))
			for range 4 {
				unit := int64(16 << 10)
				off := rng.Int64N(size/unit) * unit
				require.NoError(t, h.write(off, int(unit), blockdev.Atomic))
			}
			require.NoError(t, h.crash(blockdev.CrashConfig{Seed: seed, Survive: 0.5}))
		}
	})
}

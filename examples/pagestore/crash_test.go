package pagestore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// TestCrashAtRandomPoints runs random histories of Puts, Deletes and Syncs
// and cuts the power at random moments: between operations, and before a
// random device write or flush inside a Sync. Every time the store must
// reopen, pass Check, and hold exactly what the last finished Sync
// committed (for a cut inside a Sync: that, or what the Sync committed).
// Half the histories run on a COW File, where a Sync is one untorn batch
// (chains and meta page) and one File Sync; half in native mode, where
// a batch spread over the file does not fit one RWF_ATOMIC unit and Sync
// takes the shadow-paging path. Every history ends with a Put and a cut
// before the first device operation of the Sync after it, which must come
// inside that Sync. 4 histories by default, 24 with UNTORN_LONG=1
// (internal/testsize); seeds 0 and 1 of every 4 run on COW, 2 and 3 native.
func TestCrashAtRandomPoints(t *testing.T) {
	t.Parallel()
	crashes, inside := 0, 0
	var commits Stats
	for seed := range testsize.Pick[uint64](4, 24) {
		rng := rand.New(rand.NewPCG(seed, 99))
		// With many buckets the heads fill the whole meta page, so a torn
		// meta page would mix heads of two generations.
		buckets := 1 + rng.IntN(6)
		if seed%2 == 1 {
			buckets = MaxBuckets
		}
		limits, size := blockdev.LimitsXFS, int64(testDevice) // native
		if seed%4 < 2 {
			limits, size = blockdev.LimitsNone, 8*testDevice // COW: room for the container's headroom
		}
		mem, err := blockdev.NewMem(size, limits)
		require.NoError(t, err)
		r := openRig(t, mem, Options{Buckets: buckets})
		checkOnCleanup(t, &r)
		model, synced := map[string]string{}, map[string]string{}
		for step := range 160 {
			k := fmt.Sprintf("k%03d", rng.IntN(60))
			switch op := rng.IntN(20); {
			case op < 11:
				v := fmt.Sprintf("%d/%d/%0*d", seed, step, rng.IntN(3000), 0)
				require.NoError(t, r.store.Put([]byte(k), []byte(v)))
				model[k] = v
			case op < 15:
				_, err := r.store.Delete([]byte(k))
				require.NoError(t, err)
				delete(model, k)
			case op < 18:
				require.NoError(t, r.store.Sync())
				synced = cloneMap(model)
			default:
				cfg := blockdev.CrashConfig{Seed: rng.Uint64(), Survive: []float64{0, 0.5, 1}[rng.IntN(3)]}
				want := synced
				st := r.store.Stats() // of the store about to crash
				commits.BatchCommits += st.BatchCommits
				commits.ShadowCommits += st.ShadowCommits
				if op == 18 {
					r = r.crash(t, cfg)
				} else {
					var in bool
					r, in = r.crashInSync(t, rng.IntN(8), cfg)
					got := contents(t, r.store)
					if !in || mapsEqual(got, model) {
						want = model
					}
					if in {
						inside++
					}
				}
				crashes++
				require.NoError(t, r.store.Check(), "seed %d step %d", seed, step)
				require.Equal(t, want, contents(t, r.store), "seed %d step %d", seed, step)
				model, synced = cloneMap(want), cloneMap(want)
			}
		}
		k := fmt.Sprintf("k%03d", rng.IntN(60))
		require.NoError(t, r.store.Put([]byte(k), []byte("last")))
		model[k] = "last"
		var in bool
		r, in = r.crashInSync(t, 0, blockdev.CrashConfig{Seed: seed, Survive: 0.5})
		require.True(t, in, "seed %d: a Sync with a change to write wrote nothing", seed)
		inside++
		crashes++
		require.NoError(t, r.store.Check(), "seed %d at the end", seed)
		require.Equal(t, synced, contents(t, r.store), "seed %d: a cut before the Sync's first write", seed)
	}
	t.Logf("%d crashes, %d of them inside a Sync; commits by batch %d, by shadow paging %d",
		crashes, inside, commits.BatchCommits, commits.ShadowCommits)
	require.Positive(t, inside)
	require.Positive(t, commits.BatchCommits, "COW histories commit with batches")
	require.Positive(t, commits.ShadowCommits, "native histories take the fallback")
}

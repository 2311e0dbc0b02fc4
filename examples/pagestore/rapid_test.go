package pagestore

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/blockdev"
)

// TestStateMachine drives a store against a map model: Put, Get, Delete,
// Scan, Sync, Check, crashes (between operations and inside a Sync) and
// clean reopens. After a crash the store must hold exactly what the last
// finished Sync committed (or, for a cut inside a Sync, what that Sync
// was committing).
func TestStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		buckets := rapid.SampledFrom([]int{1, 3, 8, MaxBuckets}).Draw(t, "buckets")
		r := openRig(t, newTestMem(t), Options{Buckets: buckets})
		defer func() { _ = r.f.Abandon() }()
		model, synced := map[string]string{}, map[string]string{}
		genKey := func(t *rapid.T) string { return fmt.Sprintf("key-%02d", rapid.IntRange(0, 23).Draw(t, "key")) }
		genCfg := func(t *rapid.T) blockdev.CrashConfig {
			return blockdev.CrashConfig{
				Seed:    rapid.Uint64().Draw(t, "seed"),
				Survive: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "survive"),
			}
		}
		afterCrash := func(t *rapid.T, want map[string]string) {
			require.NoError(t, r.store.Check())
			require.Equal(t, want, contents(t, r.store))
			model, synced = cloneMap(want), cloneMap(want)
		}
		t.Repeat(map[string]func(*rapid.T){
			"put": func(t *rapid.T) {
				k := genKey(t)
				n := rapid.IntRange(0, 6000).Draw(t, "len")
				v := string(bytes.Repeat([]byte{byte(rapid.IntRange('a', 'z').Draw(t, "fill"))}, n))
				require.NoError(t, r.store.Put([]byte(k), []byte(v)))
				model[k] = v
			},
			"get": func(t *rapid.T) {
				k := genKey(t)
				v, ok, err := r.store.Get([]byte(k))
				require.NoError(t, err)
				want, wantOK := model[k]
				require.Equal(t, wantOK, ok)
				require.Equal(t, want, string(v))
			},
			"delete": func(t *rapid.T) {
				k := genKey(t)
				ok, err := r.store.Delete([]byte(k))
				require.NoError(t, err)
				_, want := model[k]
				require.Equal(t, want, ok)
				delete(model, k)
			},
			"scan": func(t *rapid.T) {
				stop := rapid.IntRange(1, 30).Draw(t, "stop")
				calls := 0
				require.NoError(t, r.store.Scan(func(k, v []byte) bool {
					calls++
					require.Equal(t, model[string(k)], string(v))
					return calls < stop
				}))
				require.Equal(t, min(stop, len(model)), calls)
			},
			"all": func(t *rapid.T) { require.Equal(t, model, contents(t, r.store)) },
			"sync": func(t *rapid.T) {
				require.NoError(t, r.store.Sync())
				synced = cloneMap(model)
			},
			"check": func(t *rapid.T) { require.NoError(t, r.store.Check()) },
			"crash": func(t *rapid.T) {
				r = r.crash(t, genCfg(t))
				afterCrash(t, synced)
			},
			"crashInSync": func(t *rapid.T) {
				var inside bool
				r, inside = r.crashInSync(t, rapid.IntRange(0, 8).Draw(t, "op"), genCfg(t))
				got := contents(t, r.store)
				switch {
				case !inside:
					afterCrash(t, model)
				case mapsEqual(got, model):
					afterCrash(t, model)
				default:
					afterCrash(t, synced)
				}
			},
			"reopen": func(t *rapid.T) {
				require.NoError(t, r.store.Close())
				r = openRig(t, r.mem.CrashClone(blockdev.CrashConfig{}), Options{})
				afterCrash(t, model)
			},
		})
		require.NoError(t, r.store.Check())
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

package cow

import (
	"os"
	"testing"

	"github.com/untorn/untorn/internal/rapidflag"
	"github.com/untorn/untorn/internal/testsize"
)

// TestMain sizes the rapid tests of the package: 20 checks each in the
// default run, 200 with UNTORN_LONG=1 (internal/testsize).
//
// The tests that run in parallel (t.Parallel) use no package variable
// (defragHook is set by a sequential test only) and no wall-clock bound.
func TestMain(m *testing.M) {
	rapidflag.Sized(20, 200)
	os.Exit(m.Run())
}

// sized picks the size of an exhaustive campaign: small in the default
// run (go test -race ./..., what a contributor runs), full with
// UNTORN_LONG=1, where raceFull stands in under the race detector (which
// makes these memory-heavy tests about ten times slower). -short runs the
// default size.
func sized[T any](small, raceFull, full T) T {
	switch {
	case !testsize.Long():
		return small
	case raceEnabled:
		return raceFull
	}
	return full
}

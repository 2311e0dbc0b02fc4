package pagecache

import (
	"os"
	"testing"

	"github.com/untorn/untorn/internal/rapidflag"
)

// TestMain sizes the rapid tests of the package: 20 checks each in the
// default run, 200 with UNTORN_LONG=1 (internal/testsize).
func TestMain(m *testing.M) {
	rapidflag.Sized(20, 200)
	os.Exit(m.Run())
}

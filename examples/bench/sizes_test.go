package main

import (
	"os"
	"testing"

	"github.com/untorn/untorn/internal/rapidflag"
)

// TestMain sizes the rapid tests of the package: 20 checks each in the
// default run, 100 (rapid's own default) with UNTORN_LONG=1
// (internal/testsize): the model test is the costliest of the long run.
func TestMain(m *testing.M) {
	rapidflag.Sized(20, 100)
	os.Exit(m.Run())
}

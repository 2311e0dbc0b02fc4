package rapidflag

import (
	"flag"
	"os"
	"strconv"

	"github.com/untorn/untorn/internal/testsize"
)

// DefaultChecks makes n the number of checks each rapid.Check runs, unless
// the command line (-rapid.checks) or the environment (RAPID_CHECKS) says
// otherwise. Call it from TestMain; it parses the flags.
func DefaultChecks(n int) {
	flag.Parse()
	explicit := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if explicit {
		return
	}
	if err := flag.Set("rapid.checks", strconv.Itoa(n)); err != nil {
		panic("rapidflag: " + err.Error()) // rapid is not linked in: a programming error
	}
}

// Sized is DefaultChecks(short) in the default run and DefaultChecks(long)
// with UNTORN_LONG=1 (see package testsize). rapid itself still divides
// the count by 5 under -short. Call it from TestMain.
func Sized(short, long int) { DefaultChecks(testsize.Pick(short, long)) }

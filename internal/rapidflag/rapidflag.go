package rapidflag

import (
	"flag"
	"os"
	"strconv"
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

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// env is what a verb runs with: where it prints, whether stderr is a
// terminal (the progress bar), the clock, and convert's tuning (tests
// shrink it and hook into it).
type env struct {
	stdout, stderr io.Writer
	tty            bool
	now            func() time.Time
	convert        convertConfig
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, tty: isTerminal(os.Stderr), now: time.Now, convert: defaultConvert}
	os.Exit(run(e, os.Args[1:]))
}

const usage = `usage: untorn <verb> PATH

Verbs (PATH is an untorn data file; see the package documentation):
  info     what PATH is (journal mode, COW container or plain file) and its state; writes nothing
  recover  replay PATH's journal (or container) after a crash, and nothing else
  check    verify every checksum of PATH's journal (or container); writes nothing
  convert  turn a COW container into an ordinary file (journal mode), crash-safe and resumable

Exit status: 0 clean, 1 damage found, 2 usage or other errors.
`

// verbs maps each verb to its function.
var verbs = map[string]func(e *env, path string) error{
	"info":    info,
	"recover": recoverFile,
	"check":   check,
	"convert": convert,
}

// run runs one command line (without the program name) and returns the
// exit status.
func run(e *env, args []string) int {
	if len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	var err error
	if len(args) != 2 {
		err = fmt.Errorf("%w: want a verb and one PATH, got %d arguments", errUsage, len(args))
	} else if f, ok := verbs[args[0]]; !ok {
		err = fmt.Errorf("%w: unknown verb %q", errUsage, args[0])
	} else {
		err = f(e, args[1])
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(e.stderr, "untorn: %v\n", err)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(e.stderr, usage)
		return 2
	case errors.Is(err, errDamage) || errors.Is(err, blockdev.ErrCorrupt):
		return 1
	}
	return 2
}

// inUse explains an ErrLocked from opening path.
func inUse(path string, err error) error {
	if errors.Is(err, blockdev.ErrLocked) {
		return fmt.Errorf("%s is in use (open by another process, or earlier in this one): %w", path, err)
	}
	return err
}

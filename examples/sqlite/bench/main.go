package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/untorn/untorn/internal/benchstat"
)

var (
	// errBadFlag: a flag value that cannot be used.
	errBadFlag = errors.New("bad flag")
	// errSetup: a database did not get the settings asked for.
	errSetup = errors.New("unexpected database setting")
	// errCheck: the database does not hold what the workload wrote.
	errCheck = errors.New("database check failed")
	// errNoRow: a query that returns a row returned none.
	errNoRow = errors.New("no row")
	// errNoCounters: /proc/self/io lacks write_bytes or wchar.
	errNoCounters = errors.New("write_bytes or wchar missing")
	// errNoSpace: -dir has too little free space.
	errNoSpace = errors.New("not enough free space")
	// errFailed: some runs failed (the tables show which).
	errFailed = errors.New("runs failed")
)

// options are the command's flags.
type options struct {
	dir        string
	workloads  string
	contenders string
	txs        int
	ops        int
	runs       int
	accounts   int
	mixedDB    int // MiB
	seed       uint64
}

// maxMixedDB bounds -mixed-db (MiB): the flag is a size, not a disk filler.
const maxMixedDB = 64 << 10

func parseFlags(args []string, errOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: go run ./bench [flags]   (in examples/sqlite)\n\n"+
			"Compares SQLite commits through the untorn VFS with the stock VFS in DELETE and WAL journal modes\n"+
			"on the file system of -dir, and prints the medians over -runs runs.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dir, "dir", ".", "directory on the file system to measure (a temporary directory is made inside it per run)")
	fs.StringVar(&o.workloads, "workloads", "all", "comma-separated workloads: "+strings.Join(workloadNames, ", ")+", or all")
	fs.StringVar(&o.contenders, "contenders", "all", "comma-separated contenders: "+strings.Join(contenderNames, ", ")+", or all")
	fs.IntVar(&o.txs, "txs", 2000, "measured transactions per run (bank, insert100)")
	fs.IntVar(&o.ops, "ops", 20000, "measured operations (reads and transactions) per run (mixed)")
	fs.IntVar(&o.runs, "runs", 3, "runs per workload and contender; the tables show medians")
	fs.IntVar(&o.accounts, "accounts", 10000, "accounts of the bank (at least; mixed adds more to reach -mixed-db)")
	fs.IntVar(&o.mixedDB, "mixed-db", 64, "database size of the mixed workload in MiB (SQLite's page cache is a quarter of it)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random operations")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errBadFlag, fs.Args())
	}
	switch {
	case o.txs < 1, o.ops < 1, o.runs < 1:
		return o, fmt.Errorf("%w: -txs, -ops and -runs must be at least 1", errBadFlag)
	case o.accounts < 2:
		return o, fmt.Errorf("%w: -accounts must be at least 2", errBadFlag)
	case o.mixedDB < 1 || o.mixedDB > maxMixedDB:
		return o, fmt.Errorf("%w: -mixed-db must be 1 to %d (MiB)", errBadFlag, maxMixedDB)
	case o.dir == "":
		return o, fmt.Errorf("%w: -dir is empty", errBadFlag)
	}
	if _, err := pick(o.workloads, workloadNames); err != nil {
		return o, err
	}
	if _, err := pick(o.contenders, contenderNames); err != nil {
		return o, err
	}
	return o, nil
}

// pick resolves a comma-separated list against the known names, keeping
// the order of known.
func pick(list string, known []string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return known, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !contains(known, n) {
			return nil, fmt.Errorf("%w: %q is not one of %s", errBadFlag, n, strings.Join(known, ", "))
		}
		want[n] = true
	}
	var out []string
	for _, k := range known {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// run benchmarks the workloads, printing each one's table to out as it
// completes and a line per run to progress.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	wnames, err := pick(o.workloads, workloadNames)
	if err != nil {
		return err
	}
	cnames, err := pick(o.contenders, contenderNames)
	if err != nil {
		return err
	}
	if err := checkDir(o, wnames); err != nil {
		return err
	}
	cs, unregister, err := newContenders(cnames)
	if err != nil {
		return err
	}
	defer unregister()

	writeHeader(out, describeMachine(o.dir), o)
	var failed []error
	for _, wn := range wnames {
		w, err := findWorkload(wn)
		if err != nil {
			return err
		}
		sums, err := runWorkload(ctx, o, w, cs, progress)
		if err != nil {
			return err
		}
		var ceil *ceiling
		if !w.mixed {
			if ceil, err = measureCeiling(o.dir, sums); err != nil {
				return err
			}
		}
		writeWorkload(out, w, o, sums, ceil)
		for _, s := range sums {
			if s.Err != nil {
				failed = append(failed, fmt.Errorf("%s/%s: %w", w.name, s.Contender, s.Err))
			}
		}
	}
	writeNotes(out, cnames)
	if len(failed) > 0 {
		return fmt.Errorf("%w: %w", errFailed, errors.Join(failed...))
	}
	return nil
}

// runWorkload runs every contender o.runs times on w, the contenders taking
// turns within a run (the first one rotating by run), and returns their
// summaries in the order of cs. A contender whose run fails runs no more.
func runWorkload(ctx context.Context, o options, w workload, cs []*contender, progress io.Writer) ([]summary, error) {
	results := make([][]result, len(cs))
	errs := make([]error, len(cs))
	unit := "tx/s"
	if w.mixed {
		unit = "ops/s"
	}
	for r := range o.runs {
		for k := range cs {
			i := (k + r) % len(cs)
			if errs[i] != nil {
				continue
			}
			res, err := runOnce(ctx, o.dir, cs[i], w, o, r)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			if err != nil {
				errs[i] = err
				fmt.Fprintf(progress, "%-9s run %d/%d  %-11s FAILED: %v\n", w.name, r+1, o.runs, cs[i].name, err)
				continue
			}
			results[i] = append(results[i], res)
			fmt.Fprintf(progress, "%-9s run %d/%d  %-11s %8.0f %s\n", w.name, r+1, o.runs, cs[i].name,
				float64(res.Txs+res.Reads)/res.Elapsed.Seconds(), unit)
		}
	}
	sums := make([]summary, len(cs))
	for i, c := range cs {
		sums[i] = summarize(c, results[i], errs[i])
	}
	return sums, nil
}

// checkDir refuses a -dir that is not a directory or lacks the space of
// the largest database one run leaves (runs remove theirs; an untorn COW
// container takes about twice its data, a WAL grows beside the database).
func checkDir(o options, workloads []string) error {
	st, err := os.Stat(o.dir)
	if err != nil {
		return fmt.Errorf("-dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: -dir %s is not a directory", errBadFlag, o.dir)
	}
	var need int64
	for _, w := range workloads {
		switch w {
		case "bank":
			need = max(need, int64(o.accounts)*64+int64(o.txs)*(memoLen+64))
		case "insert100":
			need = max(need, int64(o.txs)*insertRows*(insertText+32))
		case "mixed":
			need = max(need, int64(o.mixedDB)*mib+int64(o.ops)*(memoLen+64))
		}
	}
	need = 3*need + 64*mib
	free, err := freeBytes(o.dir)
	if err != nil {
		return err
	}
	if free < need {
		return fmt.Errorf("%w in %s: %d MiB free, about %d MiB needed (lower -mixed-db or -txs)", errNoSpace, o.dir, free/mib, need/mib)
	}
	return nil
}

// measureCeiling measures the device bound for untorn's commit record
// (its batch's pages and a header block), when the run has untorn's and wal-normal's results (nil
// otherwise).
func measureCeiling(dir string, sums []summary) (*ceiling, error) {
	var untorn, walNormal *summary
	for i := range sums {
		if sums[i].Runs == 0 || sums[i].Err != nil {
			continue
		}
		switch sums[i].Contender {
		case "untorn":
			untorn = &sums[i]
		case "wal-normal":
			walNormal = &sums[i]
		}
	}
	if untorn == nil || walNormal == nil || math.IsNaN(untorn.BatchBytesPerTx) {
		return nil, nil
	}
	// A commit's record: its batch's pages and a header block.
	c := &ceiling{Bytes: int(untorn.BatchBytesPerTx) + benchstat.BoundBlock, SQLite: walNormal.TxP50}
	var err error
	if c.Bound, err = benchstat.DeviceBound(dir, c.Bytes, benchstat.BoundWrites); err != nil {
		return nil, err
	}
	return c, nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev/journal"
)

// options are the command's flags.
type options struct {
	dir        string
	size       byteSize
	cache      byteSize
	reps       int
	ops        int
	syncEvery  int
	writers    int
	workloads  string
	contenders string
	seed       uint64
	json       bool
	keep       bool
	warmSeq    bool
	age        float64
	cowSpare   int
	journal    byteSize
	cpuProfile string
	sim        string // -sim: a simulated drive (simProfiles); "" runs on the file system
	// committers
	commitTime time.Duration
	committers []int
	// pg-checkpoint
	pgFiles      int
	pgMax        byteSize
	pgWrites     byteSize
	pgCheckpoint byteSize
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	o := options{size: 256 << 20, cache: 64 << 20, pgMax: 256 << 20, pgWrites: 256 << 20, pgCheckpoint: 32 << 20}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: go run ./examples/bench [flags]\n\n"+
			"Runs the same random-page workloads against untorn (auto, native, COW), buffered pwrite+fdatasync,\n"+
			"O_DIRECT+RWF_ATOMIC, a doublewrite buffer and sequential appends, alternating them run by run,\n"+
			"and prints the medians. Files go to a new temporary directory inside -dir, removed at the end.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dir, "dir", ".", "directory on the file system to test (a temporary directory is made inside it), e.g. an XFS mount")
	fs.Var(&o.size, "size", "data file size (e.g. 64MiB, 1GiB)")
	fs.Var(&o.cache, "cache", "untorn's page cache budget; also sizes the mixed workloads' working sets and ycsb-a's warm-up")
	fs.IntVar(&o.reps, "reps", 3, "repetitions; contenders alternate within each, the median is shown")
	fs.IntVar(&o.ops, "ops", 4096, "page operations (reads + writes) per run")
	fs.IntVar(&o.syncEvery, "sync-every", 64, "page writes between Syncs")
	fs.IntVar(&o.writers, "writers", 16, "parallel writers of the O_DIRECT contenders (dio-atomic, doublewrite)")
	fs.StringVar(&o.workloads, "workload", "all", "comma-separated workloads: "+strings.Join(workloadNames, ", ")+", or all (those);\n"+
		"and "+strings.Join(scenarioNames, ", ")+", which run when named")
	fs.DurationVar(&o.commitTime, "commit-time", 3*time.Second, "committers: how long each point (contender, G) runs")
	committers := fs.String("committers", "1,2,8,32,128", "committers: comma-separated numbers of goroutines")
	fs.IntVar(&o.pgFiles, "pg-files", 64, "pg-checkpoint: relation files")
	fs.Var(&o.pgMax, "pg-max", "pg-checkpoint: the largest relation file (the smallest is 1/16 of it)")
	fs.Var(&o.pgWrites, "pg-writes", "pg-checkpoint: page bytes written per run")
	fs.Var(&o.pgCheckpoint, "pg-checkpoint", "pg-checkpoint: a checkpoint every this many bytes of writes")
	fs.StringVar(&o.contenders, "contenders", "all", "comma-separated contenders: "+strings.Join(contenderNames, ", ")+", or all")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the operation lists and page contents")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of tables")
	fs.BoolVar(&o.warmSeq, "warm-sequential", false, "warm the caches by reading in file order: the mixed workloads' working set instead of shuffled,\n"+
		"ycsb-a's hottest pages instead of hottest first")
	fs.Float64Var(&o.age, "age", 1.5, "before its first run, overwrite each new untorn COW container with this many times -size of random pages\n"+
		"(untimed), so that runs measure the steady state of a long-lived file, cleaner included; 0 measures a fresh container")
	fs.Var(&o.journal, "journal-size", "journal capacity of new untorn files in journal mode (atomicio.Options.JournalSize; 0: the default, "+formatSize(journal.DefaultCapacity)+"); journal-bound checkpoints every half of it")
	fs.IntVar(&o.cowSpare, "cow-spare", 0, "cleaning headroom of new untorn COW containers in percent of -size (atomicio.Options.COWSparePercent; 0: the default)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory and its files")
	fs.StringVar(&o.sim, "sim", "", "run the workloads on simulated devices (two blockdev.Mem in memory, about 2 x -size) with the limits of a drive,\n"+
		"one of "+strings.Join(simProfileNames(), ", ")+", and report device bytes per user byte for the hybrid (auto) and journal-only modes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errBadFlag, fs.Args())
	}
	for _, g := range strings.Split(*committers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(g))
		if err != nil || n < 1 {
			return o, fmt.Errorf("%w: -committers %q", errBadFlag, *committers)
		}
		o.committers = append(o.committers, n)
	}
	if o.commitTime <= 0 || o.pgFiles < 1 || o.pgMax < 16*pgPage || o.pgWrites < pgPage || o.pgCheckpoint < pgPage {
		return o, fmt.Errorf("%w: -commit-time, -pg-files, -pg-writes, -pg-checkpoint must be positive, -pg-max at least 128KiB", errBadFlag)
	}
	if o.reps < 1 || o.ops < 1 || o.syncEvery < 1 || o.writers < 1 || o.size < 4096 || o.cache < 1<<20 || !(o.age >= 0 && o.age <= 100) || o.cowSpare < 0 || o.cowSpare > 1000 || (o.journal != 0 && o.journal < 1<<20) {
		return o, fmt.Errorf("%w: -reps, -ops, -sync-every, -writers must be >= 1, -size >= 4KiB, -cache >= 1MiB, 0 <= -age <= 100, 0 <= -cow-spare <= 1000, -journal-size 0 or >= 1MiB", errBadFlag)
	}
	return o, nil
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
	defer stop()
	stopProfile := func() error { return nil }
	if o.cpuProfile != "" {
		if stopProfile, err = startProfile(o.cpuProfile); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
	}
	err = run(ctx, o, os.Stdout, os.Stderr)
	err = errors.Join(err, stopProfile())
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

// pick resolves a comma-separated list against the known names.
func pick(list string, known []string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return known, nil
	}
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, k := range known {
			found = found || k == n
		}
		if !found {
			return nil, fmt.Errorf("%w: %q is not one of %v", errBadFlag, n, known)
		}
		out = append(out, n)
	}
	return out, nil
}

// run benchmarks, printing each workload's table as it completes and
// progress to progress.
func run(ctx context.Context, o options, out, progress io.Writer) error {
	wnames, scenarios, err := pickWorkloads(o.workloads)
	if err != nil {
		return err
	}
	cnames, err := pickContenders(o.contenders, contenderNames)
	if err != nil {
		return err
	}
	if len(wnames) == 0 {
		cnames = nil
	}
	var wls []workload
	for _, n := range wnames {
		w, err := makeWorkload(n, int64(o.size), int64(o.cache), o.ops, o.syncEvery)
		if err != nil {
			return err
		}
		w.WarmSeq = o.warmSeq
		wls = append(wls, w)
	}
	if o.sim != "" {
		return runSim(ctx, o, o.sim, wls, out)
	}
	cs := make([]contender, 0, len(cnames))
	for _, n := range cnames {
		c, err := newContender(n)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	if err := checkSpace(o.dir, int64(o.size), len(cs), o.cowSpare); err != nil {
		return err
	}
	if err := checkScenarioSpace(o, scenarios); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "untorn-bench-")
	if err != nil {
		return fmt.Errorf("make the benchmark directory: %w", err)
	}
	if o.keep {
		fmt.Fprintf(progress, "keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	rep := report{
		Machine: describeMachine(dir),
		Config: config{Size: int64(o.size), CacheSize: int64(o.cache), Reps: o.reps, Ops: o.ops,
			SyncEvery: o.syncEvery, Writers: o.writers, Seed: o.seed, Workloads: wnames, Age: o.age, COWSpare: o.cowSpare, JournalSize: int64(o.journal)},
	}
	if !o.json {
		rep.writeHeader(out, len(wls) > 0)
	}
	cpu := startCPU()
	for _, w := range wls {
		wr := runWorkload(ctx, dir, o, w, cs, progress)
		wr.setRatios()
		rep.Workloads = append(rep.Workloads, wr)
		if !o.json {
			rep.writeTable(out, wr)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := runScenarios(ctx, dir, o, scenarios, &rep, out, progress); err != nil {
		return err
	}
	rep.CPU = cpu()
	if o.json {
		return rep.writeJSON(out)
	}
	rep.CPU.write(out)
	if len(wls) > 0 {
		rep.writeLegend(out)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return nil
}

// cowReserve bounds what a COW container made with default Options holds
// on disk beyond its live data and cleaning headroom: its geometry is
// sized for atomicio.DefaultMaxSize (4 MiB segments), and its cleaner
// budget adds two segments of slack and a reserve for one 8 MiB batch, the
// cleaner and the log head (some 36 MiB), plus superblocks and checkpoints.
// It is why small -size files show a large disk/live.
const cowReserve = 48 << 20

// checkSpace refuses to start when dir cannot hold every contender's files.
// A COW container made with default Options takes disk space as its log
// grows, and its cleaner keeps that near the live data (all of -size after
// the fill) plus its cleaning headroom, spare percent of the live data or
// atomicio.DefaultCOWSparePercent, a few percent of metadata, and
// cowReserve (its file's apparent size, the checkpoint slots the format
// places before the data area, about 4 GiB at atomicio.DefaultMaxSize,
// plus the segments up to the highest in use, is sparse: the slots take
// no space beyond the checkpoints written). That is counted for every
// contender to keep this simple.
func checkSpace(dir string, size int64, contenders, spare int) error {
	free, err := freeBytes(dir)
	if err != nil {
		return err
	}
	if spare == 0 {
		spare = atomicio.DefaultCOWSparePercent
	}
	need := int64(contenders)*(size+size*int64(spare+10)/100+cowReserve) + maxLogSize + 8<<20
	if free < need {
		return fmt.Errorf("%w in %s: %d MiB free, about %d MiB needed (lower -size or pick -contenders)",
			errNoSpace, dir, free>>20, need>>20)
	}
	return nil
}

// tally collects one contender's runs in one workload.
type tally struct {
	runs []runResult
	na   string
	err  string
}

// runWorkload runs every contender reps times, alternating them (the
// starting contender rotates by repetition) over the same operations.
func runWorkload(ctx context.Context, dir string, o options, w workload, cs []contender, progress io.Writer) workloadReport {
	tallies := make([]tally, len(cs))
	for r := range o.reps {
		ops := w.plan(o.seed + uint64(r))
		pool := makePool(w.PageSize, o.seed+uint64(r))
		for k := range cs {
			if ctx.Err() != nil {
				break
			}
			i := (k + r) % len(cs)
			t := &tallies[i]
			if t.na != "" || t.err != "" {
				continue
			}
			cfg := fileConfig{Dir: dir, Size: int64(o.size), CacheSize: int64(o.cache), PageSize: w.PageSize, Age: o.age, COWSpare: o.cowSpare, JournalSize: int64(o.journal),
				SyncEvery: w.SyncEvery, Writers: o.writers, NeedReads: w.ReadPct > 0}
			res, err := runOnce(cs[i], cfg, w, ops, pool, o.seed+uint64(r))
			switch {
			case isNotApplicable(err):
				t.na = strings.TrimPrefix(err.Error(), errNotApplicable.Error()+": ")
				fmt.Fprintf(progress, "%s rep %d/%d %-14s n/a: %s\n", w.Name, r+1, o.reps, cs[i].Name(), t.na)
			case err != nil:
				t.err = err.Error()
				fmt.Fprintf(progress, "%s rep %d/%d %-14s FAILED: %v\n", w.Name, r+1, o.reps, cs[i].Name(), err)
			default:
				t.runs = append(t.runs, res)
				fmt.Fprintf(progress, "%s rep %d/%d %-14s %8.1f us/page\n", w.Name, r+1, o.reps, cs[i].Name(),
					float64(res.Elapsed.Microseconds())/float64(max(res.Reads+res.Writes, 1)))
			}
		}
	}
	wr := workloadReport{Workload: w}
	for i, c := range cs {
		s := summarize(c.Name(), tallies[i].runs)
		s.NA, s.Error = tallies[i].na, tallies[i].err
		wr.Rows = append(wr.Rows, s)
	}
	return wr
}

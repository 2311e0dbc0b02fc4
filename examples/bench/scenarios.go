package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Scenarios are the workloads that do not fit the single-goroutine,
// single-file contender model of the page workloads: committers (many
// goroutines committing on one file) and pg-checkpoint (many files on one
// shared Cache). Each has its own contenders (committer, relStore), its own
// runner and its own table; -workload names them (all means the page
// workloads only) and -contenders filters them by name.
var scenarioNames = []string{"committers", "pg-checkpoint"}

// pickWorkloads splits -workload into page workloads and scenarios.
func pickWorkloads(list string) (pages, scenarios []string, err error) {
	if strings.TrimSpace(list) == "all" {
		return workloadNames, nil, nil
	}
	known := append(append([]string(nil), workloadNames...), scenarioNames...)
	names, err := pick(list, known)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		if contains(scenarioNames, n) {
			scenarios = append(scenarios, n)
		} else {
			pages = append(pages, n)
		}
	}
	return pages, scenarios, nil
}

// pickContenders resolves -contenders for a workload whose contenders are
// known: all of them for "all", else the named ones it knows (a name may
// belong to another workload's contenders only; a name nobody knows is an
// error).
func pickContenders(list string, known []string) ([]string, error) {
	if strings.TrimSpace(list) == "all" {
		return known, nil
	}
	every := append(append(append([]string(nil), contenderNames...), committerNames()...), pgNames()...)
	names, err := pick(list, every)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if contains(known, n) && !contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool { return slices.Contains(xs, x) }

// checkScenarioSpace refuses to start pg-checkpoint where its files do not
// fit: the kernel contenders' relation files are written whole (and a WAL
// file), and each untorn contender's containers take about twice what a
// run writes, plus a few segments each.
func checkScenarioSpace(o options, scenarios []string) error {
	if !contains(scenarios, "pg-checkpoint") {
		return nil
	}
	names, err := pickContenders(o.contenders, pgNames())
	if err != nil {
		return err
	}
	var total int64
	for _, r := range pgRelations(o.pgFiles, int64(o.pgMax)) {
		total += r.Size
	}
	need := int64(0)
	kernel := false
	for _, n := range names {
		if strings.HasPrefix(n, "untorn") {
			need += 2*int64(o.pgWrites)*int64(o.reps) + int64(o.pgFiles)*16<<20
		} else {
			kernel = true
		}
	}
	if kernel {
		need += total + walSize(int64(o.pgCheckpoint))
	}
	free, err := freeBytes(o.dir)
	if err != nil {
		return err
	}
	if free < need {
		return fmt.Errorf("%w in %s for pg-checkpoint: %d MiB free, about %d MiB needed (lower -pg-max or -pg-files, or pick -contenders)",
			errNoSpace, o.dir, free>>20, need>>20)
	}
	return nil
}

// runScenarios runs the named scenarios after the page workloads, printing
// each table as it completes (unless JSON is asked for) and keeping it in
// rep.
func runScenarios(ctx context.Context, dir string, o options, scenarios []string, rep *report, out, progress io.Writer) error {
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		switch sc {
		case "committers":
			names, err := pickContenders(o.contenders, committerNames())
			if err != nil {
				return err
			}
			cr, err := runCommitters(ctx, dir, o, names, progress)
			if err != nil {
				return err
			}
			rep.Committers = &cr
			if !o.json {
				cr.write(out)
			}
		case "pg-checkpoint":
			names, err := pickContenders(o.contenders, pgNames())
			if err != nil {
				return err
			}
			pr, err := runPG(ctx, dir, o, names, progress)
			if err != nil {
				return err
			}
			rep.PG = &pr
			if !o.json {
				pr.write(out)
			}
		}
	}
	return nil
}

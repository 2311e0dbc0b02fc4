package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// boundWrites is how many commits the device bounds are the median of
// (tests lower it).
var boundWrites = benchstat.BoundWrites

// committersFile is the size of each committers contender's file (the
// pages written are the first G*4 KiB of it).
const committersFile = 64 << 20

// commitSummary is the medians over the repetitions of one contender at
// one G.
type commitSummary struct {
	G         int    `json:"goroutines"`
	Contender string `json:"contender"`
	Mode      string `json:"mode,omitempty"`
	NA        string `json:"na,omitempty"`
	Error     string `json:"error,omitempty"`
	Runs      int    `json:"runs"`
	PerSec    fig    `json:"commits_per_s"`
	SyncP50   fig    `json:"sync_p50_us"`
	SyncP99   fig    `json:"sync_p99_us"`
	// Untorn only: Syncs per device flush, the mean pass period, and the
	// container's record write and flush time per flush.
	PerFlush   fig `json:"commits_per_flush"`
	RecordUS   fig `json:"record_write_us_per_flush"`
	FlushUS    fig `json:"flush_us_per_flush"`
	BatchBytes fig `json:"bytes_per_group_commit"`
	// The container's checkpoints and segment fills per second, and the
	// mean time of a checkpoint.
	CkptPerSec  fig `json:"checkpoints_per_s"`
	FillsPerSec fig `json:"fills_per_s"`
	CkptUS      fig `json:"checkpoint_us"`
	// CPUWait is the time the process's threads waited for a CPU, per
	// second of the point: on a busy machine, what the serial pass of
	// group commit waits for besides the device.
	CPUWait fig `json:"cpu_wait_ms_per_s"`
}

// committersReport is what the committers workload measured.
type committersReport struct {
	PointTime time.Duration   `json:"point_ns"`
	Points    []commitSummary `json:"points"`
	// OneCommit is the device's time for one commit's flush: an O_DIRECT
	// write of a one-page commit record (the page and a header block)
	// into written blocks plus fdatasync, median (benchstat.DeviceBound).
	OneCommit time.Duration `json:"one_commit_flush_ns"`
	// GroupCommit is the same for the mean group commit untorn wrote at
	// G=32 (GroupBytes, header block included).
	GroupCommit time.Duration `json:"group_commit_flush_ns,omitempty"`
	GroupBytes  int           `json:"group_commit_bytes,omitempty"`
}

// runCommitters runs every contender at every G, reps times, the
// contenders taking turns at each G (the first rotating by repetition).
func runCommitters(ctx context.Context, dir string, o options, names []string, progress io.Writer) (committersReport, error) {
	rep := committersReport{PointTime: o.commitTime}
	cs := make([]committer, 0, len(names))
	for _, n := range names {
		c, err := newCommitter(n)
		if err != nil {
			return rep, err
		}
		cs = append(cs, c)
	}
	type key struct {
		g int
		i int
	}
	runs := map[key][]commitPoint{}
	na := make([]string, len(cs))
	failed := make([]string, len(cs))
	for r := range o.reps {
		for _, g := range o.committers {
			for k := range cs {
				if ctx.Err() != nil {
					break
				}
				i := (k + r) % len(cs)
				if na[i] != "" || failed[i] != "" {
					continue
				}
				res, err := runCommitPoint(cs[i], dir, committersFile, g, o.commitTime)
				switch {
				case isNotApplicable(err):
					na[i] = strings.TrimPrefix(err.Error(), errNotApplicable.Error()+": ")
					fmt.Fprintf(progress, "committers rep %d/%d %-14s n/a: %s\n", r+1, o.reps, cs[i].Name(), na[i])
				case err != nil:
					failed[i] = err.Error()
					fmt.Fprintf(progress, "committers rep %d/%d %-14s FAILED: %v\n", r+1, o.reps, cs[i].Name(), err)
				default:
					runs[key{g, i}] = append(runs[key{g, i}], res)
					fmt.Fprintf(progress, "committers rep %d/%d G=%-3d %-14s %9.0f commits/s\n", r+1, o.reps, g, cs[i].Name(),
						float64(res.Commits)/res.Elapsed.Seconds())
				}
			}
		}
	}
	for _, g := range o.committers {
		for i, c := range cs {
			s := summarizeCommits(g, c.Name(), runs[key{g, i}])
			s.NA, s.Error = na[i], failed[i]
			rep.Points = append(rep.Points, s)
		}
	}
	var err error
	if rep.OneCommit, err = benchstat.DeviceBound(dir, commitPage+benchstat.BoundBlock, boundWrites); err != nil {
		return rep, err
	}
	if s, ok := rep.point(32, rep.untornRow()); ok && s.BatchBytes > 0 {
		rep.GroupBytes = int(s.BatchBytes) + benchstat.BoundBlock
		if rep.GroupCommit, err = benchstat.DeviceBound(dir, rep.GroupBytes, boundWrites); err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

// summarizeCommits reduces the runs of one contender at one G to medians.
func summarizeCommits(g int, name string, runs []commitPoint) commitSummary {
	s := commitSummary{G: g, Contender: name, Runs: len(runs)}
	med := func(f func(commitPoint) float64) fig {
		xs := make([]float64, 0, len(runs))
		for _, r := range runs {
			xs = append(xs, f(r))
		}
		return fig(benchstat.Median(xs))
	}
	nan := math.NaN()
	s.PerSec = med(func(r commitPoint) float64 { return float64(r.Commits) / r.Elapsed.Seconds() })
	s.SyncP50 = med(func(r commitPoint) float64 { return pct(r.Lat, 0.50) })
	s.SyncP99 = med(func(r commitPoint) float64 { return pct(r.Lat, 0.99) })
	perFlush := func(f func(commitPoint) float64) fig {
		return med(func(r commitPoint) float64 {
			if r.Counts.Flushes == 0 {
				return nan
			}
			return f(r)
		})
	}
	s.PerFlush = perFlush(func(r commitPoint) float64 { return float64(r.Commits) / float64(r.Counts.Flushes) })
	s.RecordUS = perFlush(func(r commitPoint) float64 { return us(r.Counts.CommitTime) / float64(r.Counts.Flushes) })
	s.FlushUS = perFlush(func(r commitPoint) float64 { return us(r.Counts.FlushTime) / float64(r.Counts.Flushes) })
	s.BatchBytes = med(func(r commitPoint) float64 {
		if r.Counts.Batches == 0 {
			return nan
		}
		return float64(r.Counts.Bytes) / float64(r.Counts.Batches)
	})
	s.CkptPerSec = med(func(r commitPoint) float64 { return float64(r.Counts.Checkpoints) / r.Elapsed.Seconds() })
	s.FillsPerSec = med(func(r commitPoint) float64 { return float64(r.Counts.Fills) / r.Elapsed.Seconds() })
	s.CkptUS = med(func(r commitPoint) float64 {
		if r.Counts.Checkpoints == 0 {
			return nan
		}
		return us(r.Counts.CheckpointTime) / float64(r.Counts.Checkpoints)
	})
	s.CPUWait = med(func(r commitPoint) float64 {
		if r.CPUWait < 0 {
			return nan
		}
		return float64(r.CPUWait) / float64(time.Millisecond) / r.Elapsed.Seconds()
	})
	if len(runs) > 0 {
		s.Mode = runs[0].Mode
	}
	return s
}

// point returns the summary of contender name at G = g, if it ran.
func (r committersReport) point(g int, name string) (commitSummary, bool) {
	for _, s := range r.Points {
		if s.G == g && s.Contender == name && s.Runs > 0 && s.NA == "" && s.Error == "" {
			return s, true
		}
	}
	return commitSummary{}, false
}

// untornRow is the untorn contender the targets are judged on: untorn-auto
// (default Options) when it ran, else untorn-cow (what default Options make
// of a new file), else the first untorn contender that ran.
func (r committersReport) untornRow() string {
	ran := func(name string) bool {
		for _, s := range r.Points {
			if s.Contender == name && s.Runs > 0 && s.NA == "" && s.Error == "" {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"untorn-auto", "untorn-cow"} {
		if ran(name) {
			return name
		}
	}
	for _, s := range r.Points {
		if strings.HasPrefix(s.Contender, "untorn") && ran(s.Contender) {
			return s.Contender
		}
	}
	return ""
}

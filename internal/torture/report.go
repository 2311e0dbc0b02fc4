package torture

import (
	"slices"
	"sync"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// A Report keeps the first maxKindFailures failures of each campaign,
// profile and class, so that a rare class is not crowded out by a common
// one, and at most maxReportFailures in all; the counters count every one.
const (
	maxKindFailures   = 3
	maxReportFailures = 100
)

// Row is the sum of the cases of one campaign, one profile, or all.
type Row struct {
	Name string
	Stats
}

// Report is what a Run found, by campaign and profile. Its methods are safe
// for concurrent use.
type Report struct {
	Seed uint64

	mu       sync.Mutex // guards the fields below
	start    time.Time
	cpuStart time.Duration // benchstat.ProcessCPU at the start
	elapsed  time.Duration // set when the run ends
	cpu      time.Duration // CPU time of the run, set when it ends
	order    []key
	rows     map[key]*Stats
	failures []Failure
	kinds    map[failureKind]int // failures kept per kind
}

type failureKind struct {
	key
	class Class
}

type key struct{ campaign, profile string }

func newReport(seed uint64) *Report {
	return &Report{Seed: seed, start: time.Now(), cpuStart: benchstat.ProcessCPU(), rows: map[key]*Stats{}, kinds: map[failureKind]int{}}
}

func (r *Report) ensure(campaign, profile string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key{campaign, profile}
	if r.rows[k] == nil {
		r.rows[k] = &Stats{}
		r.order = append(r.order, k)
	}
}

func (r *Report) add(campaign, profile string, st Stats, fails []Failure) {
	r.ensure(campaign, profile)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows[key{campaign, profile}].Add(st)
	for _, f := range fails {
		k := failureKind{key{f.Campaign, f.Profile}, f.Class}
		if len(r.failures) < maxReportFailures && r.kinds[k] < maxKindFailures {
			r.failures = append(r.failures, f)
			r.kinds[k]++
		}
	}
}

func (r *Report) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.elapsed = time.Since(r.start)
	r.cpu = benchstat.ProcessCPU() - r.cpuStart
}

// Snapshot returns a copy of the report as of now.
func (r *Report) Snapshot() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &Report{Seed: r.Seed, start: r.start, cpuStart: r.cpuStart, elapsed: r.elapsed, cpu: r.cpu, order: slices.Clone(r.order),
		rows: make(map[key]*Stats, len(r.rows)), failures: slices.Clone(r.failures)}
	for k, s := range r.rows {
		cp := *s
		c.rows[k] = &cp
	}
	return c
}

// Elapsed returns the wall time of the run (so far, while it runs).
func (r *Report) Elapsed() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.elapsed > 0 {
		return r.elapsed
	}
	return time.Since(r.start)
}

// CPU returns the CPU time the process used during the run (so far,
// while it runs), all goroutines and the garbage collector included.
func (r *Report) CPU() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.elapsed > 0 {
		return r.cpu
	}
	return benchstat.ProcessCPU() - r.cpuStart
}

// ChecksPerCPUSecond returns the checks of row per second of CPU time,
// charging row the share of the run's CPU time that its cases took of the
// time all cases took (their Busy time).
func (r *Report) ChecksPerCPUSecond(row Stats) float64 {
	total := r.Total()
	cpu := r.CPU()
	if total.Busy <= 0 || cpu <= 0 || row.Busy <= 0 {
		return 0
	}
	share := cpu.Seconds() * row.Busy.Seconds() / total.Busy.Seconds()
	return float64(row.Checks) / share
}

// Total returns the sum of every case.
func (r *Report) Total() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t Stats
	for _, s := range r.rows {
		t.Add(*s)
	}
	return t
}

// ByProfile returns one row per profile, in the order first run.
func (r *Report) ByProfile() []Row { return r.group(func(k key) string { return k.profile }) }

// ByCampaign returns one row per campaign, in the order first run.
func (r *Report) ByCampaign() []Row { return r.group(func(k key) string { return k.campaign }) }

// Get returns the sums of one campaign on one profile.
func (r *Report) Get(campaign, profile string) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.rows[key{campaign, profile}]; s != nil {
		return *s
	}
	return Stats{}
}

func (r *Report) group(name func(key) string) []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rows []Row
	idx := map[string]int{}
	for _, k := range r.order {
		n := name(k)
		i, ok := idx[n]
		if !ok {
			i = len(rows)
			idx[n] = i
			rows = append(rows, Row{Name: n})
		}
		rows[i].Add(*r.rows[k])
	}
	return rows
}

// Failures returns the failures kept (see maxKindFailures).
func (r *Report) Failures() []Failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failures)
}

// OK reports whether no case failed.
func (r *Report) OK() bool {
	t := r.Total()
	return t.Failed() == 0
}

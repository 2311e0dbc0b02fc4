package torture

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// RunConfig says what Run runs.
type RunConfig struct {
	Campaigns []Campaign // required
	Profiles  []Profile  // required; a campaign skips the profiles it does not apply to
	// Parallel is the number of goroutines running cases (GOMAXPROCS when
	// 0).
	Parallel int
	// Seed is the seed of the first case of every campaign and profile; the
	// n-th case of each gets Seed+n. So a failure of seed S is replayed
	// with Seed S and Cases 1.
	Seed uint64
	// Duration stops starting cases after this long (0: no limit).
	Duration time.Duration
	// Cases stops after this many cases of each campaign and profile (0:
	// no limit).
	Cases int64
	// Checks stops starting cases once this many checks were done in all
	// (0: no limit). With no limit at all, Run stops when ctx is done.
	Checks int64
	// Progress, if set, is called about every ProgressEvery (default one
	// second) with the results so far, from Run's goroutine.
	Progress      func(*Report)
	ProgressEvery time.Duration
}

// job is one campaign on one profile.
type job struct {
	c Campaign
	p Profile
}

// Run runs cases of every campaign on every profile it applies to, taking
// turns, on cfg.Parallel goroutines, until a limit of cfg is reached or ctx
// is done (a case that started finishes first). It returns what the cases
// found; failures are in the Report, not the error, which is non-nil only
// for a bad configuration.
func Run(ctx context.Context, cfg RunConfig) (*Report, error) {
	var jobs []job
	for _, c := range cfg.Campaigns {
		for _, p := range cfg.Profiles {
			if c.Applies(p) {
				jobs = append(jobs, job{c: c, p: p})
			}
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%w: no campaign applies to the profiles chosen", ErrConfig)
	}
	par := cfg.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	rep := newReport(cfg.Seed)
	for _, j := range jobs {
		rep.ensure(j.c.Name, j.p.Name)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var next, checks atomic.Int64
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				j, round := jobs[n%int64(len(jobs))], n/int64(len(jobs))
				if (cfg.Cases > 0 && round >= cfg.Cases) || (cfg.Checks > 0 && checks.Load() >= cfg.Checks) {
					return
				}
				st, fails := j.c.RunCase(j.p, cfg.Seed+uint64(round))
				checks.Add(st.Checks)
				rep.add(j.c.Name, j.p.Name, st, fails)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	every := cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			rep.finish()
			return rep, nil
		case <-tick.C:
			if cfg.Progress != nil {
				cfg.Progress(rep.Snapshot())
			}
		}
	}
}

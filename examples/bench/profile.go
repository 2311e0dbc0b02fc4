package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// cpuUsage is the process's CPU time since start, and the wall time.
type cpuUsage struct {
	User time.Duration `json:"user_ns"`
	Sys  time.Duration `json:"system_ns"`
	Wall time.Duration `json:"wall_ns"`
}

// startCPU returns a function that measures the CPU the process used
// from now on.
func startCPU() func() cpuUsage {
	u0, s0 := rusage()
	t0 := time.Now()
	return func() cpuUsage {
		u, s := rusage()
		return cpuUsage{User: u - u0, Sys: s - s0, Wall: time.Since(t0)}
	}
}

func rusage() (user, sys time.Duration) { return benchstat.ProcessTimes() }

// write says how busy the CPUs were: a run that keeps them far from
// saturated waits on the device, which is what the per-page breakdowns then
// attribute.
func (c cpuUsage) write(w io.Writer) {
	if c.Wall <= 0 {
		return
	}
	busy := float64(c.User+c.Sys) / float64(c.Wall) / float64(runtime.NumCPU())
	fmt.Fprintf(w, "process CPU: user %.1fs + system %.1fs in %.1fs wall on %d cores: %.0f%% busy (the rest is waiting for the device)\n",
		c.User.Seconds(), c.Sys.Seconds(), c.Wall.Seconds(), runtime.NumCPU(), 100*busy)
}

// startProfile starts a CPU profile into path; the returned function stops
// it and closes the file.
func startProfile(path string) (func() error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

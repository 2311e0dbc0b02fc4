package main

import (
	"math"
	"strconv"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// medianOf applies median to one figure of every run.
func medianOf(runs []runResult, figure func(runResult) float64) float64 {
	xs := make([]float64, 0, len(runs))
	for _, r := range runs {
		xs = append(xs, figure(r))
	}
	return benchstat.Median(xs)
}

// fig is a figure that encodes NaN and infinities as JSON null.
type fig float64

func (f fig) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', 6, 64), nil
}

// summary is the medians over the repetitions of one contender in one
// workload.
type summary struct {
	Contender  string            `json:"contender"`
	NA         string            `json:"na,omitempty"`    // why it did not run
	Error      string            `json:"error,omitempty"` // why a run failed
	Mode       string            `json:"mode,omitempty"`  // what untorn-auto resolved to
	Runs       int               `json:"runs"`
	USPerPage  fig               `json:"us_per_page"`
	MBPerS     fig               `json:"mb_per_s"`
	WA         fig               `json:"write_amplification"`        // counted by the contender
	KernelWA   fig               `json:"kernel_write_amplification"` // /proc/self/io write_bytes; NaN if unknown
	WriteP50   fig               `json:"write_p50_us"`
	WriteP99   fig               `json:"write_p99_us"`
	SyncP50    fig               `json:"sync_p50_us"`
	SyncP99    fig               `json:"sync_p99_us"`
	ReadP50    fig               `json:"read_p50_us"`
	ReadP99    fig               `json:"read_p99_us"`
	MaxRSS     int64             `json:"max_rss_bytes,omitempty"`  // median over runs of the peak RSS
	BaseRSS    int64             `json:"base_rss_bytes,omitempty"` // RSS before Open (harness and runtime)
	PeakReset  bool              `json:"peak_rss_reset"`           // false: peak since process start
	VsAuto     fig               `json:"time_vs_untorn_auto"`      // us/page divided by untorn-auto's; NaN if none
	DeviceMiB  fig               `json:"device_mib_written"`
	UserMiB    fig               `json:"user_mib_written"`
	ReadsCount int               `json:"reads"`
	Writes     int               `json:"writes"`
	Syncs      int               `json:"syncs"`
	Breakdown  *breakdownSummary `json:"time_breakdown,omitempty"` // untorn COW contenders
	FreeReads  bool              `json:"reads_free,omitempty"`     // a writeOnly contender: reads counted as page ops, not executed
	DiskBytes  int64             `json:"disk_bytes,omitempty"`     // median disk use of the data file after the last Sync (diskUser contenders)
	LiveBytes  int64             `json:"live_bytes,omitempty"`     // median live data (logical size) of it then
	DiskLive   fig               `json:"disk_per_live"`            // median of disk over live bytes; null if not measured
	// ApparentLive is the median of the data file's apparent size (ls -l)
	// over its live bytes; null if not measured.
	ApparentLive fig `json:"apparent_per_live"`
	// CloseUS is the median time Close took (inside us/page: a design that
	// defers work to Close pays it there).
	CloseUS fig `json:"close_us"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// summarize reduces the runs of one contender to medians.
func summarize(name string, runs []runResult) summary {
	s := summary{Contender: name, Runs: len(runs), VsAuto: fig(math.NaN()), DiskLive: fig(math.NaN()), ApparentLive: fig(math.NaN())}
	if len(runs) == 0 {
		return s
	}
	s.USPerPage = fig(medianOf(runs, func(r runResult) float64 { return us(r.Elapsed) / float64(max(r.Reads+r.Writes, 1)) }))
	s.MBPerS = fig(medianOf(runs, func(r runResult) float64 {
		return float64(r.UserBytesRead+r.UserBytesWritten) / 1e6 / r.Elapsed.Seconds()
	}))
	s.WA = fig(medianOf(runs, func(r runResult) float64 { return ratio(r.DeviceBytes, r.UserBytesWritten) }))
	s.KernelWA = fig(medianOf(runs, func(r runResult) float64 {
		if r.KernelBytes < 0 {
			return math.NaN()
		}
		return ratio(r.KernelBytes, r.UserBytesWritten)
	}))
	s.WriteP50 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.WriteLat, 0.50) }))
	s.WriteP99 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.WriteLat, 0.99) }))
	s.SyncP50 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.SyncLat, 0.50) }))
	s.SyncP99 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.SyncLat, 0.99) }))
	s.ReadP50 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.ReadLat, 0.50) }))
	s.ReadP99 = fig(medianOf(runs, func(r runResult) float64 { return pct(r.ReadLat, 0.99) }))
	s.MaxRSS = int64(medianOf(runs, func(r runResult) float64 { return float64(r.MaxRSS) }))
	s.BaseRSS = int64(medianOf(runs, func(r runResult) float64 { return float64(r.BaseRSS) }))
	s.PeakReset, s.Mode = runs[0].PeakReset, runs[0].Mode
	s.DeviceMiB = fig(medianOf(runs, func(r runResult) float64 { return float64(r.DeviceBytes) / (1 << 20) }))
	s.UserMiB = fig(medianOf(runs, func(r runResult) float64 { return float64(r.UserBytesWritten) / (1 << 20) }))
	s.ReadsCount, s.Writes, s.Syncs = runs[0].Reads, runs[0].Writes, len(runs[0].SyncLat)
	s.Breakdown = summarizeBreakdown(runs)
	s.FreeReads = runs[0].FreeReads
	d := summarizeDisk(runs)
	s.DiskBytes, s.LiveBytes, s.DiskLive, s.ApparentLive = d.Disk, d.Live, d.PerLive, d.ApparentPerLive
	s.CloseUS = fig(medianOf(runs, func(r runResult) float64 { return us(r.CloseTime) }))
	return s
}

// pct is percentile in microseconds, NaN without samples.
func pct(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	return us(benchstat.Percentile(ds, q))
}

// ratio is a/b, NaN when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

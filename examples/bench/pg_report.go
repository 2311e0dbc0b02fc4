package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// write prints the pg-checkpoint table, the targets and where untorn's
// time went.
func (r pgReport) write(w io.Writer) {
	fmt.Fprintf(w, "== pg-checkpoint: %d relation files of %s-%s (%s in all) of 8 KiB pages; %s of writes per run (Zipf relations and pages, half of them runs of 2-16 pages, up to 128 KiB), a checkpoint every %s; untorn: one shared Cache of %s\n",
		r.Files, formatSize(r.MinSize), formatSize(r.MaxSize), formatSize(r.TotalBytes), formatSize(r.Writes), formatSize(r.Checkpoint), formatSize(r.CacheSize))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join([]string{"contender", "seconds", "MB/s", "checkpoint p50", "checkpoint max", "write p99",
		"WA(kernel)", "WAL MiB", "WAL syncs", "peak RSS +", "x buffered-fpi", "x buffered", ""}, "\t"))
	fpi, okFPI := r.row("buffered-fpi")
	plain, okPlain := r.row("buffered")
	var notes []string
	for _, s := range r.Rows {
		name := s.Contender
		if s.Mode != "" && s.Contender == "untorn-auto" {
			name += " (" + s.Mode + ")"
		}
		switch {
		case s.NA != "":
			notes = append(notes, fmt.Sprintf("  %-14s n/a: %s", s.Contender, s.NA))
			continue
		case s.Error != "" && s.Runs == 0:
			notes = append(notes, fmt.Sprintf("  %-14s FAILED: %s", s.Contender, s.Error))
			continue
		}
		vsFPI, vsPlain := fig(math.NaN()), fig(math.NaN())
		if okFPI {
			vsFPI = fpi.Seconds / s.Seconds
		}
		if okPlain {
			vsPlain = plain.Seconds / s.Seconds
		}
		wal := "-"
		if s.WALMiB > 0 {
			wal = num(s.WALMiB, 0)
		}
		syncs := "-"
		if s.WALSyncs > 0 {
			syncs = num(s.WALSyncs, 0)
		}
		fmt.Fprintln(tw, strings.Join([]string{name, num(s.Seconds, 2), num(s.MBPerS, 1), fmt.Sprintf("%.0fms", float64(s.CkptP50)),
			fmt.Sprintf("%.0fms", float64(s.CkptMax)), lat(s.WriteP99), num(s.KernelWA, 2), wal, syncs,
			fmt.Sprintf("%.1fMiB", float64(s.RSSGrowth)), num(vsFPI, 2), num(vsPlain, 2), ""}, "\t"))
	}
	_ = tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	for _, s := range r.Rows {
		if b := s.Breakdown; b != nil && s.Runs > 0 {
			fmt.Fprintf(w, "  %s's containers per run, summed over the files (they overlap: Cache.Sync flushes them in parallel, writeback runs beside the writes): record writes %.2fs, flushes %.2fs, cleaning %.2fs, checkpoints %.2fs\n",
				s.Contender, float64(b.Commit), float64(b.Flush), float64(b.Clean), float64(b.Checkpoint))
		}
		if strings.HasPrefix(s.Contender, "untorn") && s.Runs > 0 && s.PeakReset {
			bound := 1.1 * float64(r.CacheSize) / (1 << 20)
			fmt.Fprintf(w, "  %s: peak RSS grew %.1f MiB with %d files open on its Cache, %s the Cache's size + 10%% = %.1f MiB\n",
				s.Contender, float64(s.RSSGrowth), r.Files, withinOver(float64(s.RSSGrowth) <= bound), bound)
		}
	}
	if best, ok := r.bestUntorn(); ok && okFPI {
		x := float64(fpi.Seconds / best.Seconds)
		fmt.Fprintf(w, "target: the best untorn mode (%s) >= 1.2x faster than buffered-fpi: %.2fx  %s", best.Contender, x, verdict(x >= 1.2))
		if okPlain {
			fmt.Fprintf(w, "; %.2fx buffered without full-page images (not torn-safe)", float64(plain.Seconds/best.Seconds))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// row returns the summary of a contender that ran.
func (r pgReport) row(name string) (pgSummary, bool) {
	for _, s := range r.Rows {
		if s.Contender == name && s.Runs > 0 && s.NA == "" && s.Error == "" {
			return s, true
		}
	}
	return pgSummary{}, false
}

// bestUntorn returns the fastest untorn contender that ran.
func (r pgReport) bestUntorn() (pgSummary, bool) {
	var best pgSummary
	found := false
	for _, s := range r.Rows {
		if !strings.HasPrefix(s.Contender, "untorn") || s.Runs == 0 || s.NA != "" || s.Error != "" {
			continue
		}
		if !found || s.Seconds < best.Seconds {
			best, found = s, true
		}
	}
	return best, found
}

// withinOver is "within" or "OVER".
func withinOver(ok bool) string {
	if ok {
		return "within"
	}
	return "OVER"
}

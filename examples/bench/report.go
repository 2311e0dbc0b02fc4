package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/untorn/untorn/blockdev/journal"
)

// config is the run's settings, printed with the results.
type config struct {
	Size      int64    `json:"size"`
	CacheSize int64    `json:"cache_size"`
	Reps      int      `json:"reps"`
	Ops       int      `json:"ops"`
	SyncEvery int      `json:"sync_every"`
	Writers   int      `json:"writers"`
	Seed      uint64   `json:"seed"`
	Workloads []string `json:"workloads"`
	Age       float64  `json:"age"`       // untorn containers were overwritten Age x Size before their first run
	COWSpare  int      `json:"cow_spare"` // atomicio.Options.COWSparePercent (0: default)
	// JournalSize is atomicio.Options.JournalSize of new journal-mode files (0: default).
	JournalSize int64 `json:"journal_size"`
}

// workloadReport is one workload's table.
type workloadReport struct {
	Workload workload  `json:"workload"`
	Rows     []summary `json:"rows"`
}

// report is everything one invocation prints.
type report struct {
	Machine    machine           `json:"machine"`
	Config     config            `json:"config"`
	Workloads  []workloadReport  `json:"workloads"`
	Committers *committersReport `json:"committers,omitempty"`
	PG         *pgReport         `json:"pg_checkpoint,omitempty"`
	CPU        cpuUsage          `json:"cpu"` // the process's, over all workloads (setup, fills and aging included)
}

// setRatios fills VsAuto: each contender's us/page over untorn-auto's.
func (w *workloadReport) setRatios() {
	var auto float64
	for _, r := range w.Rows {
		if r.Contender == "untorn-auto" && r.Runs > 0 && r.NA == "" && r.Error == "" {
			auto = float64(r.USPerPage)
		}
	}
	for i := range w.Rows {
		w.Rows[i].VsAuto = fig(math.NaN())
		if auto > 0 && w.Rows[i].Runs > 0 && w.Rows[i].Error == "" {
			w.Rows[i].VsAuto = fig(float64(w.Rows[i].USPerPage) / auto)
		}
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeHeader prints the machine and, when page workloads run
// (pages), their configuration.
func (r *report) writeHeader(w io.Writer, pages bool) {
	m, c := r.Machine, r.Config
	fmt.Fprintf(w, "untorn bench  %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, %s\n", m.CPU, m.Cores, m.Kernel, m.Go)
	fmt.Fprintf(w, "dir:     %s (%s, RWF_ATOMIC: %s)\n", m.Dir, m.FileSystem, m.Untorn)
	if !pages {
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "config:  data file %s, untorn cache %s, %d reps (median shown), %d page ops per run, Sync every %d writes, %d writers\n",
		formatSize(c.Size), formatSize(c.CacheSize), c.Reps, c.Ops, c.SyncEvery, c.Writers)
	spare := "default"
	if c.COWSpare > 0 {
		spare = fmt.Sprintf("%d%%", c.COWSpare)
	}
	jsize := "default (" + formatSize(journal.DefaultCapacity) + ")"
	if c.JournalSize > 0 {
		jsize = formatSize(c.JournalSize)
	}
	fmt.Fprintf(w, "untorn:  new files are made with default Options (only Size, CacheSize, Mode set: no Preallocate, no MaxSize), COW cleaning headroom %s, journal %s\n", spare, jsize)
	if c.Age > 0 {
		fmt.Fprintf(w, "aging:   new untorn COW containers were overwritten with %.3gx their size of random pages before the first run (steady state)\n\n", c.Age)
	} else {
		fmt.Fprintf(w, "aging:   none (-age 0): untorn COW containers start with free space, so cleaning may not show\n\n")
	}
}

func (r *report) writeTable(w io.Writer, wr workloadReport) {
	wl := wr.Workload
	reads := wl.ReadPct > 0
	fmt.Fprintf(w, "== %s: %s\n", wl.Name, wl.Desc)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"contender", "us/page", "MB/s", "WA", "WA(kernel)", "write p50", "write p99", "sync p50", "sync p99"}
	if reads {
		head = append(head, "read p50", "read p99")
	}
	head = append(head, "max RSS", "disk/live", "x auto", "")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	var notes []string
	for _, s := range wr.Rows {
		name := s.Contender
		if s.Mode != "" && s.Contender == "untorn-auto" {
			name += " (" + s.Mode + ")"
		}
		if s.FreeReads && reads {
			name += " (writes only)"
		}
		switch {
		case s.NA != "":
			notes = append(notes, fmt.Sprintf("  %-14s n/a: %s", s.Contender, s.NA))
			fmt.Fprintln(tw, blankRow(name, "n/a", len(head)))
			continue
		case s.Error != "":
			notes = append(notes, fmt.Sprintf("  %-14s FAILED: %s", s.Contender, s.Error))
			if s.Runs == 0 {
				fmt.Fprintln(tw, blankRow(name, "FAILED", len(head)))
				continue
			}
		}
		cells := []string{name, num(s.USPerPage, 1), num(s.MBPerS, 1), num(s.WA, 2), num(s.KernelWA, 2),
			lat(s.WriteP50), lat(s.WriteP99), lat(s.SyncP50), lat(s.SyncP99)}
		if reads {
			cells = append(cells, lat(s.ReadP50), lat(s.ReadP99))
		}
		cells = append(cells, fmt.Sprintf("%.1fMiB", float64(s.MaxRSS)/(1<<20)), diskCell(s.DiskLive), num(s.VsAuto, 2), "")
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	writeBreakdowns(w, wr)
	writeCeilings(w, wr)
	if wl.Name == "mixed-4x" {
		r.writeRSSCheck(w, wr)
	}
	fmt.Fprintln(w)
}

// writeRSSCheck compares what the untorn contenders added to the process's
// peak RSS (the peak minus the RSS before Open, which is the harness and
// the Go runtime) with the cache budget plus 10%, and prints the whole
// process's peak too.
func (r *report) writeRSSCheck(w io.Writer, wr workloadReport) {
	target := float64(r.Config.CacheSize) * 1.1
	for _, s := range wr.Rows {
		if !strings.HasPrefix(s.Contender, "untorn") || s.Runs == 0 || s.NA != "" {
			continue
		}
		if !s.PeakReset {
			fmt.Fprintf(w, "  %s: max RSS %.1f MiB since process start (VmHWM reset unavailable): cannot tell what the run added\n",
				s.Contender, float64(s.MaxRSS)/(1<<20))
			continue
		}
		growth := float64(s.MaxRSS - s.BaseRSS)
		verdict := "within"
		if growth > target {
			verdict = "OVER"
		}
		fmt.Fprintf(w, "  %s: peak RSS grew %.1f MiB from Open on, %s the cache budget + 10%% = %.1f MiB (whole process %.1f MiB, %.1f MiB before Open)\n",
			s.Contender, growth/(1<<20), verdict, target/(1<<20), float64(s.MaxRSS)/(1<<20), float64(s.BaseRSS)/(1<<20))
	}
}

func (r *report) writeLegend(w io.Writer) {
	fmt.Fprint(w, `us/page: time inside Write/Read/Sync per page op; MB/s: user bytes read+written per second of that time.
WA: bytes the contender sent to the device / user bytes written (untorn: Stats().Writeback.BytesWritten,
    which is counted above the COW container). WA(kernel): /proc/self/io write_bytes / user bytes, which
    includes what the COW container writes (log headers, checkpoints, cleaning).
write/sync/read p50, p99: latency of one WriteAt / Sync / ReadAt. x auto: us/page over untorn-auto's (>1 is slower).
    For buffered, the kernel counts a whole (possibly large) folio when it is dirtied, so WA(kernel) can
    overstate what reaches the disk; for O_DIRECT writes (untorn, dio-atomic, doublewrite, seq-append) it is exact.
max RSS: VmHWM of the whole process during the run (Go runtime included; the kernel page cache is not in it).
disk/live: untorn's data file after the run's last Sync: disk it occupies (st_blocks*512) over its live data
    (logical size, all of -size after the fill); a COW container also holds its cleaning headroom, metadata and
    a fixed reserve of some 36 MiB (segments sized for the default MaxSize), which dominates at a small -size.
buffered is NOT torn-safe; seq-append is the bound: the written pages appended sequentially in 1 MiB writes
    (a page rewritten while its earlier version waits in the 1 MiB buffer replaces it, as a cache merges rewrites).
    It cannot read: for workloads with reads, seq-append's reads are free (it appends the writes only,
    reads nothing and skips the warm-up; "writes only" in the table), and its us/page is its time over all
    page ops, reads included, so nothing torn-safe that does read can beat it there either.
`)
}

// blankRow is a row of a contender without figures, as wide as the head.
func blankRow(name, what string, cols int) string {
	cells := []string{name, what}
	for len(cells) < cols-1 {
		cells = append(cells, "-")
	}
	return strings.Join(append(cells, ""), "\t")
}

// num prints a figure, "-" for NaN.
func num(f fig, prec int) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// lat prints microseconds as us or ms.
func lat(f fig) string {
	v := float64(f)
	switch {
	case math.IsNaN(v) || v == 0:
		return "-"
	case v >= 10000:
		return fmt.Sprintf("%.1fms", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fus", v)
	}
	return fmt.Sprintf("%.1fus", v)
}

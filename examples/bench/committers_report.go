package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// write prints the committers table, the device's time for one commit,
// the targets and where untorn's time went at G = 32.
func (r committersReport) write(w io.Writer) {
	fmt.Fprintf(w, "== committers: G goroutines, each WriteAt of a 4 KiB page of its own + Sync, %s per point, commits/s and Sync latency (medians over runs)\n",
		r.PointTime)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join([]string{"G", "contender", "commits/s", "x own G=1", "vs buffered", "sync p50", "sync p99",
		"commits/flush", "record/flush", "flush", "bytes/commit", "CPU wait", ""}, "\t"))
	var notes []string
	for _, s := range r.Points {
		name := s.Contender
		if s.Mode != "" && s.Contender == "untorn-auto" {
			name += " (" + s.Mode + ")"
		}
		switch {
		case s.NA != "":
			if s.G == r.firstG() {
				notes = append(notes, fmt.Sprintf("  %-14s n/a: %s", s.Contender, s.NA))
			}
			continue
		case s.Error != "" && s.Runs == 0:
			if s.G == r.firstG() {
				notes = append(notes, fmt.Sprintf("  %-14s FAILED: %s", s.Contender, s.Error))
			}
			continue
		}
		own, buf := fig(math.NaN()), fig(math.NaN())
		if one, ok := r.point(r.firstG(), s.Contender); ok && r.firstG() == 1 {
			own = s.PerSec / one.PerSec
		}
		if b, ok := r.point(s.G, "buffered"); ok {
			buf = s.PerSec / b.PerSec
		}
		fmt.Fprintln(tw, strings.Join([]string{fmt.Sprint(s.G), name, num(s.PerSec, 0), num(own, 2), num(buf, 2),
			lat(s.SyncP50), lat(s.SyncP99), num(s.PerFlush, 1), lat(s.RecordUS), lat(s.FlushUS), num(s.BatchBytes, 0),
			num(s.CPUWait, 0) + "ms/s", ""}, "\t"))
	}
	_ = tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w, "record/flush, flush: the COW container's time to write a pass's record and to flush it, from its own clock (a thread that waits for a CPU after the syscall counts);")
	fmt.Fprintln(w, "CPU wait: what the process's threads spent runnable but waiting for a CPU (/proc/self/task/*/schedstat), per second of the point")
	fmt.Fprintf(w, "one commit's flush: %s (the device's time for an O_DIRECT write of a one-page commit record, the page and a header block, into written blocks + fdatasync, median, this run)\n",
		durUS(r.OneCommit))
	if r.GroupCommit > 0 {
		fmt.Fprintf(w, "one group commit's flush at G=32: %s (the same for %s, %s's mean commit record there)\n",
			durUS(r.GroupCommit), formatSize(int64(r.GroupBytes)), r.untornRow())
	}
	r.writeTargets(w)
	fmt.Fprintln(w)
}

// writeTargets judges issue #21's targets on the untorn row (untorn-auto,
// default Options, when it ran).
func (r committersReport) writeTargets(w io.Writer) {
	name := r.untornRow()
	if name == "" {
		return
	}
	fmt.Fprintf(w, "targets (%s):\n", name)
	one, ok1 := r.point(1, name)
	at32, ok32 := r.point(32, name)
	at128, ok128 := r.point(128, name)
	buf32, okBuf := r.point(32, "buffered")
	if ok1 && ok32 {
		x := float64(at32.PerSec / one.PerSec)
		fmt.Fprintf(w, "  commits/s at G=32 >= 10x its G=1:           %.0f / %.0f = %.1fx  %s\n", float64(at32.PerSec), float64(one.PerSec), x, verdict(x >= 10))
	}
	if ok32 && okBuf {
		x := float64(at32.PerSec / buf32.PerSec)
		fmt.Fprintf(w, "  commits/s at G=32 >= 3x buffered's at G=32:  %.0f / %.0f = %.2fx  %s\n", float64(at32.PerSec), float64(buf32.PerSec), x, verdict(x >= 3))
	}
	if ok32 && ok128 {
		x := float64(at128.PerSec / at32.PerSec)
		fmt.Fprintf(w, "  commits/s at G=128 >= at G=32:               %.0f / %.0f = %.2fx  %s\n", float64(at128.PerSec), float64(at32.PerSec), x, verdict(x >= 1))
	}
	if ok32 && r.OneCommit > 0 {
		x := float64(at32.SyncP99) / us(r.OneCommit)
		fmt.Fprintf(w, "  Sync p99 at G=32 <= 4x one commit's flush:   %s / %s = %.1fx  %s\n", lat(at32.SyncP99), durUS(r.OneCommit), x, verdict(x <= 4))
	}
	if ok32 && !math.IsNaN(float64(at32.PerFlush)) {
		period := 1e6 / float64(at32.PerSec) * float64(at32.PerFlush)
		fmt.Fprintf(w, "  where G=32's time goes: a pass every %s carrying %.1f Syncs; per flush the journal or container wrote its record in %s and flushed in %s (device: %s for one group commit);\n",
			durUS(time.Duration(period*float64(time.Microsecond))), float64(at32.PerFlush), lat(at32.RecordUS), lat(at32.FlushUS), durUS(r.GroupCommit))
		fmt.Fprintf(w, "    checkpoints (%.1f/s, %s each: a container's stall the Syncs in and behind its passes, a journal's run beside them) and segment fills with zeros (%.1f/s, a container's);\n",
			float64(at32.CkptPerSec), lat(at32.CkptUS), float64(at32.FillsPerSec))
		fmt.Fprintf(w, "    the process's threads waited %.0f ms per second for a CPU", float64(at32.CPUWait))
		if okBuf {
			fmt.Fprintf(w, " (buffered: %.0f)", float64(buf32.CPUWait))
		}
		fmt.Fprintln(w, ": a pass is one thread's write, flush and wake-ups in a row")
	}
}

// firstG is the smallest G the report holds.
func (r committersReport) firstG() int {
	g := 0
	for _, s := range r.Points {
		if g == 0 || s.G < g {
			g = s.G
		}
	}
	return g
}

// verdict is "met" or "NOT met".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// durUS prints a duration as lat prints microseconds.
func durUS(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return lat(fig(us(d)))
}

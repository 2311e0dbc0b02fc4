package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets for untorn's throughput.
const (
	targetOverDelete = 3.0 // bank, insert100: untorn >= 3x delete-full
	targetOverWAL    = 1.3 // bank, insert100: untorn >= 1.3x wal-full
	targetMixed      = 0.9 // mixed: untorn within 10% of the best durable contender
	targetOverCOW    = 1.0 // every workload: untorn (journal mode) >= untorn-cow
)

func writeHeader(out io.Writer, m machine, o options) {
	fmt.Fprintf(out, "SQLite commits: the untorn VFS against the stock VFS\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", m.Date)
	fmt.Fprintf(tw, "kernel\t%s\n", m.Kernel)
	fmt.Fprintf(tw, "CPUs\t%d\n", m.CPUs)
	fmt.Fprintf(tw, "dir\t%s (file system: %s)\n", m.Dir, m.FileSystem)
	fmt.Fprintf(tw, "software\t%s, SQLite %s (github.com/ncruces/go-sqlite3)\n", m.Go, m.SQLite)
	fmt.Fprintf(tw, "settings\t-txs %d -ops %d -runs %d -accounts %d -mixed-db %d -seed %d\n",
		o.txs, o.ops, o.runs, o.accounts, o.mixedDB, o.seed)
	fmt.Fprintf(tw, "method\tper run: fresh database, prefill, unmeasured warm-up (1/%d of the measured count), measured part;\n", warmupShare)
	fmt.Fprintf(tw, "\tcontenders take turns within a run; figures are medians over the runs\n")
	_ = tw.Flush()
}

// writeWorkload prints one workload's table, untorn's VFS counters and the
// targets.
func writeWorkload(out io.Writer, w workload, o options, sums []summary, ceil *ceiling) {
	fmt.Fprintf(out, "\n== %s: %s\n", w.name, describe(w, o, sums))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if w.mixed {
		fmt.Fprintf(tw, "%-12s\tops/s\ttx p50\ttx p99\tread p50\tread p99\tbytes/tx\tsyscall bytes/tx\tclose\tops/s incl. close\t\n", "contender")
	} else {
		fmt.Fprintf(tw, "%-12s\ttx/s\tp50\tp99\tbytes/tx\tsyscall bytes/tx\tclose\ttx/s incl. close\t\n", "contender")
	}
	var failures []string
	for _, s := range sums {
		name := s.Contender
		if !s.Durable {
			name += "*"
		}
		name = fmt.Sprintf("%-12s", name) // left-aligned in a right-aligned table
		if s.Runs == 0 {
			fmt.Fprintf(tw, "%s\tFAILED\t\n", name)
			failures = append(failures, fmt.Sprintf("%s: %v", s.Contender, s.Err))
			continue
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t", name, s.Rate, formatDuration(s.TxP50), formatDuration(s.TxP99))
		if w.mixed {
			fmt.Fprintf(tw, "%s\t%s\t", formatDuration(s.ReadP50), formatDuration(s.ReadP99))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t\n", formatBytes(s.BytesPerTx), formatBytes(s.SyscallPerTx), formatDuration(s.Close), s.RateWithClose)
		if s.Err != nil {
			failures = append(failures, fmt.Sprintf("%s (after %d runs): %v", s.Contender, s.Runs, s.Err))
		}
	}
	_ = tw.Flush()
	for _, f := range failures {
		fmt.Fprintf(out, "FAILED %s\n", f)
	}
	for _, s := range sums {
		if strings.HasPrefix(s.Contender, "untorn") && s.Runs > 0 {
			fmt.Fprintf(out, "%s VFS: %.2f batches/tx, %.2f journal (Aux) opens/tx", s.Contender, s.BatchesPerTx, s.AuxOpensPerTx)
			if s.Contender == "untorn" {
				fmt.Fprintf(out, "; side journal in the measured part: %.0f checkpoints, %s home, %s checkpointing, %.0f commits waited for room; %s in it at the start",
					s.Checkpoints, formatBytes(s.HomeBytes), formatDuration(s.CheckpointTime), s.RoomWaits, formatBytes(s.JournalAtStart))
			}
			fmt.Fprintln(out)
		}
	}
	writeTargets(out, w, sums)
	writeCeiling(out, sums, ceil)
}

// writeCeiling prints the device bound measured in this run and what it
// allows against wal-full.
func writeCeiling(out io.Writer, sums []summary, c *ceiling) {
	if c == nil {
		return
	}
	fmt.Fprintf(out, "ceiling: device bound %s (O_DIRECT write of %s, untorn's commit record, into written blocks + fdatasync, p50, this run)\n",
		formatDuration(c.Bound), formatBytes(float64(c.Bytes)))
	fmt.Fprintf(out, "         + SQLite's own time %s (wal-normal p50) = %s per transaction: at most %.0f tx/s\n",
		formatDuration(c.SQLite), formatDuration(c.Bound+c.SQLite), c.rate())
	for _, s := range sums {
		if s.Contender != "wal-full" || s.Runs == 0 || s.Err != nil {
			continue
		}
		x := c.rate() / s.Rate
		reach := "within reach"
		if x < targetOverWAL {
			reach = "out of reach on this machine: a commit at the device's bound is not that much faster than wal-full's"
		}
		fmt.Fprintf(out, "         = %.2fx wal-full at best; target >= %gx wal-full %s\n", x, targetOverWAL, reach)
	}
}

// describe says what the workload's operations are and how many a run
// measures.
func describe(w workload, o options, sums []summary) string {
	switch w.name {
	case "bank":
		return fmt.Sprintf("%d transactions per run of BEGIN; 2 UPDATE accounts; INSERT history (%d-byte memo); COMMIT; %d accounts",
			o.txs, memoLen, o.accounts)
	case "insert100":
		return fmt.Sprintf("%d transactions per run of %d INSERTs of %d-byte text", o.txs, insertRows, insertText)
	}
	size := ""
	for _, s := range sums {
		if s.Runs > 0 {
			size = fmt.Sprintf("; %d accounts with %d-byte padding, database %.1f MiB", s.Accounts, mixedPad, float64(s.DBBytes)/mib)
			break
		}
	}
	return fmt.Sprintf("%d operations per run, %d%% point reads (one SELECT each) and %d%% bank transactions; cache_size %d KiB%s",
		o.ops, 100-mixedTxPct, mixedTxPct, w.cacheKiB(o), size)
}

// writeTargets prints untorn's throughput over delete-full's and
// wal-full's and whether it meets the targets.
func writeTargets(out io.Writer, w workload, sums []summary) {
	rate := map[string]float64{}
	for _, s := range sums {
		if s.Runs > 0 && s.Err == nil {
			rate[s.Contender] = s.Rate
		}
	}
	u, ok := rate["untorn"]
	if !ok {
		fmt.Fprintf(out, "targets: n/a (no untorn result)\n")
		return
	}
	writeOverCOW(out, sums)
	ratio := func(other string) (float64, bool) {
		r, ok := rate[other]
		return u / r, ok && r > 0
	}
	if !w.mixed {
		for _, t := range []struct {
			other string
			min   float64
		}{{"delete-full", targetOverDelete}, {"wal-full", targetOverWAL}} {
			x, ok := ratio(t.other)
			if !ok {
				fmt.Fprintf(out, "untorn / %-13s n/a (no %s result)   target >= %gx %s: n/a\n", t.other+":", t.other, t.min, t.other)
				continue
			}
			fmt.Fprintf(out, "untorn / %-13s %5.2fx   target >= %gx %s: %s\n", t.other+":", x, t.min, t.other, verdict(x >= t.min))
		}
		return
	}
	best, bestName := 0.0, ""
	for _, other := range []string{"delete-full", "wal-full"} {
		x, ok := ratio(other)
		if !ok {
			fmt.Fprintf(out, "untorn / %-13s n/a (no %s result)\n", other+":", other)
			continue
		}
		fmt.Fprintf(out, "untorn / %-13s %5.2fx\n", other+":", x)
		if rate[other] > best {
			best, bestName = rate[other], other
		}
	}
	if bestName == "" {
		fmt.Fprintf(out, "target within 10%% of the best: n/a (no durable stock result)\n")
		return
	}
	fmt.Fprintf(out, "target within 10%% of the best (untorn >= %.1fx %s, the faster durable stock contender): %s\n",
		targetMixed, bestName, verdict(u >= targetMixed*best))
}

// writeOverCOW prints untorn's (journal mode) throughput over
// untorn-cow's, without and with the time of closing the database, and
// whether the first meets the target.
func writeOverCOW(out io.Writer, sums []summary) {
	var j, c *summary
	for i := range sums {
		if sums[i].Runs == 0 || sums[i].Err != nil {
			continue
		}
		switch sums[i].Contender {
		case "untorn":
			j = &sums[i]
		case "untorn-cow":
			c = &sums[i]
		}
	}
	if j == nil || c == nil || c.Rate <= 0 || c.RateWithClose <= 0 {
		return
	}
	x := j.Rate / c.Rate
	fmt.Fprintf(out, "untorn / %-13s %5.2fx (%.2fx with close)   target >= %gx untorn-cow: %s\n",
		"untorn-cow:", x, j.RateWithClose/c.RateWithClose, targetOverCOW, verdict(x >= targetOverCOW))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// writeNotes explains the columns.
func writeNotes(out io.Writer, contenders []string) {
	notes := []string{
		"tx/s (ops/s for mixed): measured transactions (operations) over the measured part's wall time.",
		"p50, p99: latency of a committed transaction, BEGIN to COMMIT returning (read: one SELECT, step and reset).",
		"bytes/tx: growth of write_bytes in /proc/self/io over the measured part, per transaction: what this process",
		"  sent to the block layer for its files (data and journal/WAL; for untorn the side journal and the checkpoints'",
		"  home writes, for untorn-cow the container's log),",
		"  not the file system's own journal. syscall bytes/tx: growth of wchar (bytes given to write system calls).",
		"delete-full, wal-full, untorn, untorn-cow: synchronous=FULL, a COMMIT is durable when it returns.",
	}
	if contains(contenders, "wal-normal") {
		notes = append(notes, "* wal-normal: WAL with synchronous=NORMAL, NOT durable per commit (the WAL is synced at checkpoints);",
			"  shown for reference, not a target.")
	}
	if contains(contenders, "untorn") || contains(contenders, "untorn-cow") {
		notes = append(notes, "untorn, untorn-cow: the untorn VFS, journal_mode=DELETE; a small transaction commits as one untorn batch",
			"  and one flush, no SQLite journal; its reads come from its own page cache (untornvfs.DefaultCacheSize, 256 MiB),",
			"  the stock VFS's from the kernel's. untorn: the VFS's default, atomicio's journal mode (the file stays an SQLite",
			"  file; a batch is one record in the side journal, written home by checkpoints, the last one at close).",
			"  untorn-cow: the database in a COW container (atomicio.ModeCOW).",
			"close: closing the database after the measured part (median), the work left for later: untorn's final checkpoint,",
			"  WAL's checkpoint; tx/s incl. close adds it to the measured time.")
	}
	fmt.Fprintf(out, "\nNotes:\n  %s\n", strings.Join(notes, "\n  "))
}

// formatDuration prints a latency with three significant digits or so.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fus", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// formatBytes prints a byte count in B, KiB or MiB; "n/a" for NaN.
func formatBytes(b float64) string {
	switch {
	case math.IsNaN(b):
		return "n/a"
	case b < 1024:
		return fmt.Sprintf("%.0f B", b)
	case b < mib:
		return fmt.Sprintf("%.1f KiB", b/1024)
	}
	return fmt.Sprintf("%.2f MiB", b/mib)
}

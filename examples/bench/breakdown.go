package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// timeBreakdown is where an untorn contender's time went in a run, from
// its COW container's counters (cow.Stats): writing the caller's records,
// the flushes that make them durable, cleaning, and interval checkpoints.
// What the run's elapsed time holds beyond them is the rest: copies into
// the cache, writeback planning, waiting.
type timeBreakdown struct {
	Commit, Flush, Clean, Checkpoint time.Duration
	// Parts of Clean: reading the victims' live blocks, and the
	// checkpoints that end cleaning rounds (the rest is writing the moved
	// blocks).
	CleanRead, CleanCheckpoint time.Duration
	// Journal mode: Checkpoint is the journal's checkpoints, which run in
	// the background (beside the commits, not in front of them, unless a
	// commit found the journal full: RoomWaits); Home is their home
	// writes and the data file's flushes, ReadBack their reads of the
	// images back from the journal. HomeBytes is what they wrote home,
	// Superseded the images they skipped (rewritten later).
	Journal                          bool
	Home, ReadBack                   time.Duration
	RoomWaits, HomeBytes, Superseded int64
	Checkpoints                      int64
}

func (b timeBreakdown) minus(o timeBreakdown) timeBreakdown {
	return timeBreakdown{Commit: b.Commit - o.Commit, Flush: b.Flush - o.Flush, Clean: b.Clean - o.Clean,
		Checkpoint: b.Checkpoint - o.Checkpoint, CleanRead: b.CleanRead - o.CleanRead,
		CleanCheckpoint: b.CleanCheckpoint - o.CleanCheckpoint,
		Journal:         b.Journal, Home: b.Home - o.Home, ReadBack: b.ReadBack - o.ReadBack,
		RoomWaits: b.RoomWaits - o.RoomWaits, HomeBytes: b.HomeBytes - o.HomeBytes,
		Superseded: b.Superseded - o.Superseded, Checkpoints: b.Checkpoints - o.Checkpoints}
}

func (b timeBreakdown) plus(o timeBreakdown) timeBreakdown {
	return timeBreakdown{Commit: b.Commit + o.Commit, Flush: b.Flush + o.Flush, Clean: b.Clean + o.Clean,
		Checkpoint: b.Checkpoint + o.Checkpoint, CleanRead: b.CleanRead + o.CleanRead,
		CleanCheckpoint: b.CleanCheckpoint + o.CleanCheckpoint}
}

func (b timeBreakdown) isZero() bool { return b == timeBreakdown{} }

// breakdowner is a contender that can say where its time went (untorn in
// COW mode).
type breakdowner interface{ breakdown() timeBreakdown }

// breakdownSummary is the median over runs of each part, in microseconds
// per page operation, like us/page.
type breakdownSummary struct {
	Commit     fig `json:"commit_us_per_page"`
	Flush      fig `json:"flush_us_per_page"`
	Clean      fig `json:"clean_us_per_page"`
	Checkpoint fig `json:"checkpoint_us_per_page"`
	Rest       fig `json:"rest_us_per_page"`
	// Parts of Clean.
	CleanRead       fig `json:"clean_read_us_per_page"`
	CleanCheckpoint fig `json:"clean_checkpoint_us_per_page"`
	// Journal mode (the checkpoints run in the background: their time is
	// not in us/page unless commits waited for room).
	Journal        bool `json:"journal,omitempty"`
	Home           fig  `json:"home_us_per_page,omitempty"`
	ReadBack       fig  `json:"read_back_us_per_page,omitempty"`
	RoomWaits      fig  `json:"room_waits,omitempty"`
	HomePerWritten fig  `json:"home_bytes_per_written,omitempty"` // bytes checkpoints wrote home per byte the workload wrote
	Checkpoints    fig  `json:"checkpoints,omitempty"`
}

// summarizeBreakdown is nil unless every run has a breakdown.
func summarizeBreakdown(runs []runResult) *breakdownSummary {
	for _, r := range runs {
		if r.Breakdown.isZero() {
			return nil
		}
	}
	per := func(part func(timeBreakdown) time.Duration) fig {
		return fig(medianOf(runs, func(r runResult) float64 { return us(part(r.Breakdown)) / float64(max(r.Reads+r.Writes, 1)) }))
	}
	return &breakdownSummary{
		Commit:          per(func(b timeBreakdown) time.Duration { return b.Commit }),
		Flush:           per(func(b timeBreakdown) time.Duration { return b.Flush }),
		Clean:           per(func(b timeBreakdown) time.Duration { return b.Clean }),
		Checkpoint:      per(func(b timeBreakdown) time.Duration { return b.Checkpoint }),
		CleanRead:       per(func(b timeBreakdown) time.Duration { return b.CleanRead }),
		CleanCheckpoint: per(func(b timeBreakdown) time.Duration { return b.CleanCheckpoint }),
		Rest: fig(medianOf(runs, func(r runResult) float64 {
			b := r.Breakdown
			fg := b.Commit + b.Flush + b.Clean + b.Checkpoint
			if b.Journal {
				fg = b.Commit + b.Flush // the checkpoints ran beside
			}
			return us(r.Elapsed-r.CloseTime-fg) / float64(max(r.Reads+r.Writes, 1))
		})),
		Journal:     runs[0].Breakdown.Journal,
		Home:        per(func(b timeBreakdown) time.Duration { return b.Home }),
		ReadBack:    per(func(b timeBreakdown) time.Duration { return b.ReadBack }),
		RoomWaits:   fig(medianOf(runs, func(r runResult) float64 { return float64(r.Breakdown.RoomWaits) })),
		Checkpoints: fig(medianOf(runs, func(r runResult) float64 { return float64(r.Breakdown.Checkpoints) })),
		HomePerWritten: fig(medianOf(runs, func(r runResult) float64 {
			return ratio(r.Breakdown.HomeBytes, r.UserBytesWritten)
		})),
	}
}

// writeBreakdowns prints, for each contender with a breakdown, where its
// us/page went.
func writeBreakdowns(w io.Writer, wr workloadReport) {
	for _, s := range wr.Rows {
		b := s.Breakdown
		if b == nil || s.Runs == 0 {
			continue
		}
		if b.Journal {
			fmt.Fprintf(w, "  %s time per page op: %s us = journal record writes %s + flushes %s + Close (last checkpoint) %s + rest %s (cache copies, writeback, reads, waits for room: %s)\n",
				s.Contender, num(s.USPerPage, 1), num(b.Commit, 1), num(b.Flush, 1),
				num(fig(float64(s.CloseUS)/float64(max(s.ReadsCount+s.Writes, 1))), 1), num(b.Rest, 1), num(b.RoomWaits, 0))
			fmt.Fprintf(w, "    background checkpoints (%s per run): %s us per page op = home writes and flushes %s + reading images back %s + rest %s; %s bytes home per byte written\n",
				num(b.Checkpoints, 0), num(b.Checkpoint, 1), num(b.Home, 1), num(b.ReadBack, 1), num(b.Checkpoint-b.Home-b.ReadBack, 1), num(b.HomePerWritten, 2))
			continue
		}
		fmt.Fprintf(w, "  %s time per page op: %s us = container record writes %s + flushes %s + cleaning %s + checkpoints %s + rest %s (cache copies, writeback, reads)\n",
			s.Contender, num(s.USPerPage, 1), num(b.Commit, 1), num(b.Flush, 1), num(b.Clean, 1), num(b.Checkpoint, 1), num(b.Rest, 1))
		if b.Clean > 0 {
			fmt.Fprintf(w, "    cleaning %s us = reading victims %s + checkpoints ending rounds %s + writing moved blocks %s\n",
				num(b.Clean, 1), num(b.CleanRead, 1), num(b.CleanCheckpoint, 1), num(b.Clean-b.CleanRead-b.CleanCheckpoint, 1))
		}
	}
}

// writeCeilings prints what the bound implies in a workload: every
// torn-safe contender writes each page to the device at least once, so
// none can take less time per page op than seq-append, which does only
// that (in a workload with reads, its reads are free: it executes only the
// writes, see writeOnly, and its time is still divided by all page ops).
// The largest speedup any of them could show over another contender is
// therefore that contender's time over the bound's; untorn's actual
// speedup (untorn-auto's, or the first untorn contender's that ran) is
// printed next to it.
func writeCeilings(w io.Writer, wr workloadReport) {
	var bound, ours, fresh, jbound, jours float64
	var name string
	ok := func(s summary) bool { return s.Runs > 0 && s.Error == "" && s.NA == "" && s.USPerPage > 0 }
	for _, s := range wr.Rows {
		switch {
		case !ok(s):
		case s.Contender == "seq-append":
			bound = float64(s.USPerPage)
		case s.Contender == "seq-append-new":
			fresh = float64(s.USPerPage)
		case s.Contender == "journal-bound":
			jbound = float64(s.USPerPage)
		case s.Contender == "untorn-journal":
			jours = float64(s.USPerPage)
		case strings.HasPrefix(s.Contender, "untorn") && (name == "" || s.Contender == "untorn-auto"):
			name, ours = s.Contender, float64(s.USPerPage)
		}
	}
	if bound <= 0 || name == "" {
		return
	}
	how := "each page written once"
	if wr.Workload.ReadPct > 0 {
		how += ", reads free"
	}
	fmt.Fprintf(w, "  ceiling: nothing torn-safe beats seq-append (%.1f us/page, %s); %s is at %.2fx the bound.\n",
		bound, how, name, bound/ours)
	if fresh > 0 {
		fmt.Fprintf(w, "    first pass: the same appends into new blocks (seq-append-new) take %.1f us/page, %.2fx the bound's time;\n"+
			"      a log going through new space pays that too; %s is at %.2fx of it.\n", fresh, fresh/bound, name, fresh/ours)
	}
	if jbound > 0 && jours > 0 {
		fmt.Fprintf(w, "    journal bound: the appends plus one home write per distinct page per checkpoint (journal-bound) take %.1f us/page;\n"+
			"      untorn-journal is at %.2fx of it.\n", jbound, jbound/jours)
	}
	for _, s := range wr.Rows {
		if !ok(s) || s.Contender == "seq-append" || s.Contender == "seq-append-new" || s.Contender == "journal-bound" || s.Contender == name {
			continue
		}
		v := float64(s.USPerPage)
		fmt.Fprintf(w, "    vs %-14s at most %.2fx faster is possible here; %s is %.2fx\n", s.Contender, v/bound, name, v/ours)
	}
}

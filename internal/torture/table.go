package torture

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as tables: by profile with a total, by
// campaign with the rate of checks, the outcomes of the corruption
// campaign, and the failures with the command that replays each.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "profile\tcases\tcrashes\tcrashes in recovery\tfaults\tcorruptions\tchecks\ttorn\tlost\tphantom\tstuck\tsilent\twrong read\terrors\t\n")
	line := func(name string, s Stats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, s.Cases, s.Crashes, s.RecoveryCrashes,
			s.Faults, s.Corruptions, s.Checks, s.ByClass[Torn], s.ByClass[Lost], s.ByClass[Phantom], s.ByClass[Stuck],
			s.ByClass[Silent], s.ByClass[WrongRead], s.ByClass[Unexpected])
	}
	for _, row := range r.ByProfile() {
		line(row.Name, row.Stats)
	}
	total := r.Total()
	line("total", total)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "campaign\tcases\tchecks\tfailures\tbusy\tchecks/s per CPU second\t\n")
	for _, row := range r.ByCampaign() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1fs\t%.0f\t\n", row.Name, row.Cases, row.Checks, row.Failed(), row.Busy.Seconds(), r.ChecksPerCPUSecond(row.Stats))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	el := r.Elapsed()
	cpu := r.CPU()
	fmt.Fprintf(w, "\n%d checks in %.1fs (%.1f CPU seconds): %.0f checks/s on the wall clock, %.0f per CPU second (seed %d)\n",
		total.Checks, el.Seconds(), cpu.Seconds(), float64(total.Checks)/max(el.Seconds(), 1e-9), float64(total.Checks)/max(cpu.Seconds(), 1e-9), r.Seed)
	if total.Corruptions > 0 {
		fmt.Fprintf(w, "corruption: %d bits flipped: %d detected (ErrCorrupt), %d harmless, %d silent\n",
			total.Corruptions, total.Detected, total.Harmless, total.ByClass[Silent])
		for _, row := range r.ByProfile() {
			if row.Corruptions > 0 && row.Corruptions < total.Corruptions {
				fmt.Fprintf(w, "  %s: %d flipped: %d detected, %d harmless\n", row.Name, row.Corruptions, row.Detected, row.Harmless)
			}
		}
	}
	fails := r.Failures()
	if len(fails) == 0 {
		_, err := fmt.Fprintf(w, "no failures\n")
		return err
	}
	fmt.Fprintf(w, "\n%d failures; %d shown, the first %d of each campaign, profile and class (each replayed alone by the command after it):\n",
		total.Failed(), len(fails), maxKindFailures)
	for _, f := range fails {
		fmt.Fprintf(w, "  %s\n    %s\n", oneLine(f.Error()), f.Replay())
	}
	return nil
}

// ProgressLine returns a one-line summary for a live display.
func (r *Report) ProgressLine() string {
	t := r.Total()
	el := r.Elapsed()
	return fmt.Sprintf("%5.0fs  %d cases  %d checks (%.0f/s)  %d crashes  %d in recovery  %d faults  %d flips  failures: %d torn %d lost %d phantom %d stuck %d silent %d other",
		el.Seconds(), t.Cases, t.Checks, float64(t.Checks)/max(el.Seconds(), 1e-9), t.Crashes, t.RecoveryCrashes, t.Faults, t.Corruptions,
		t.ByClass[Torn], t.ByClass[Lost], t.ByClass[Phantom], t.ByClass[Stuck], t.ByClass[Silent], t.ByClass[WrongRead]+t.ByClass[Unexpected])
}

// Replay returns the command that runs the failed case alone.
func (f Failure) Replay() string {
	return fmt.Sprintf("go run ./examples/torture -campaigns %s -profiles %s -seed %d -cases 1", f.Campaign, f.Profile, f.Seed)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }

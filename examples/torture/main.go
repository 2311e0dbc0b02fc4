// Command torture runs the crash and fault campaigns of package
// internal/torture against atomicio on simulated devices (blockdev.Mem: one
// per File in native and COW mode, two in journal mode, the data device and
// the journal, whose power is cut at one instant) and prints what they
// found:
//
//	go run ./examples/torture                       # 30 s, every campaign and profile
//	go run ./examples/torture -duration 0           # until Ctrl-C
//	go run ./examples/torture -campaigns crash -profiles none-cow,xfs-native
//	go run ./examples/torture -profiles none-journal,nvme-journal   # journal mode only
//	go run ./examples/torture -campaigns transient -profiles none-cow -seed 17 -cases 1   # replay one case
//
// It redraws a progress line on stderr about once a second (on a terminal;
// otherwise it prints one every 30 seconds) and, at the end
// (or on Ctrl-C), a table per profile and per campaign on stdout. It exits
// with status 1 when any case failed (torn, lost or phantom data, a stuck
// device, silent corruption, a wrong read or an unexpected error), 2 for
// bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/untorn/untorn/internal/torture"
)

func main() {
	duration := flag.Duration("duration", 30*time.Second, "how long to run (0: until interrupted with Ctrl-C)")
	profiles := flag.String("profiles", "", "comma-separated `profiles` (default all: "+strings.Join(torture.ProfileNames(), ",")+")")
	campaigns := flag.String("campaigns", "", "comma-separated `campaigns` (default all: "+strings.Join(torture.CampaignNames(), ",")+")")
	parallel := flag.Int("parallel", runtime.GOMAXPROCS(0), "goroutines running cases")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()%1e9), "seed of the first case of each campaign and profile (case n gets seed+n)")
	cases := flag.Int64("cases", 0, "stop after this many cases per campaign and profile (0: no limit)")
	checks := flag.Int64("checks", 0, "stop after this many checks in all (0: no limit)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: torture [flags]\n\n"+
			"Runs crash and fault campaigns against atomicio on simulated devices and\n"+
			"checks every image found: untorn writes whole, synced writes present, no\n"+
			"phantom data. Profiles (native, COW, and journal mode over a data device\n"+
			"and a journal):\n  %s\nCampaigns:\n", strings.Join(torture.ProfileNames(), ", "))
		for _, c := range torture.Campaigns() {
			fmt.Fprintf(flag.CommandLine.Output(), "  %-11s %s\n", c.Name, c.Doc)
		}
		fmt.Fprintf(flag.CommandLine.Output(), "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*campaigns, *profiles, *parallel, *seed, *duration, *cases, *checks); err != nil {
		fmt.Fprintf(os.Stderr, "torture: %v\n", err)
		if errors.Is(err, torture.ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// logEvery is how often the progress line is printed when stderr is not
// a terminal.
const logEvery = 30 * time.Second

// errFailures: some case failed.
var errFailures = errors.New("failures found")

func run(campaigns, profiles string, parallel int, seed uint64, duration time.Duration, cases, checks int64) error {
	cs, err := torture.SelectCampaigns(split(campaigns))
	if err != nil {
		return err
	}
	ps, err := torture.SelectProfiles(split(profiles))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	live := isTerminal(os.Stderr)
	var last time.Time
	rep, err := torture.Run(ctx, torture.RunConfig{
		Campaigns: cs, Profiles: ps, Parallel: parallel, Seed: seed, Duration: duration, Cases: cases, Checks: checks,
		Progress: func(r *torture.Report) {
			switch {
			case live:
				fmt.Fprintf(os.Stderr, "\r%s\x1b[K", r.ProgressLine())
			case time.Since(last) >= logEvery: // a log file: a line now and then
				last = time.Now()
				fmt.Fprintln(os.Stderr, r.ProgressLine())
			}
		},
	})
	if live {
		fmt.Fprintf(os.Stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if !rep.OK() {
		t := rep.Total()
		return fmt.Errorf("%w: %d", errFailures, t.Failed())
	}
	return nil
}

func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// isTerminal reports whether f is a character device (a terminal, most
// likely), where a line redrawn with \r makes sense.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

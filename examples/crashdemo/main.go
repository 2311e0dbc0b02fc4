package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

func main() {
	var c config
	flag.IntVar(&c.Crashes, "crashes", 40, "power cuts per write mode")
	flag.IntVar(&c.Pages, "pages", 256, "16 KiB pages in the data file")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the workload and of the crash points (timing of the background\nwriteback can still vary the plain run's counts)")
	flag.Float64Var(&c.Survive, "survive", 0.5, "chance that each unsynced write (each block of a plain one) survives a power cut")
	flag.StringVar(&c.Dir, "dir", "", "also run the untorn workload on a real file in this `directory`:\n"+
		"write, close, reopen, check every page (no crash: a real file cannot be\n"+
		"power-cut; the crash runs always use the in-memory device)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: crashdemo [flags]\n\n"+
			"Simulates a storage engine updating 16 KiB pages, cuts the power at random\n"+
			"moments (between writes and in the middle of a Sync) on an in-memory device\n"+
			"with a crash model, and counts torn pages (checksum fails) and lost pages\n"+
			"(older than a finished Sync made durable), with plain buffered writes and\n"+
			"with untorn ones (atomicio.WriteAt). Exits 1 if the untorn run is not clean.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	total := 2 * c.Crashes
	if c.Dir != "" {
		total++
	}
	var prog *progress
	if isTerminal(os.Stderr) {
		prog = newProgress(os.Stderr, total)
	}
	rows, err := run(c, prog)
	prog.finish()
	printTable(os.Stdout, rows)
	switch {
	case errors.Is(err, errBadConfig):
		fmt.Fprintf(os.Stderr, "crashdemo: %v\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "crashdemo: %v\n", err)
		os.Exit(1)
	}
	if len(rows) > 0 && rows[0].Torn == 0 {
		fmt.Println("\nThe plain run tore no page this time; try more -crashes or another -seed.")
	}
}

func printTable(w io.Writer, rows []result) {
	if len(rows) == 0 {
		return
	}
	width := len("mode")
	for _, r := range rows {
		width = max(width, len(r.Mode))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tcrashes\tpages checked\ttorn pages\tlost synced pages\telapsed\t\n", width, "mode")
	for _, r := range rows {
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%d\t%.2fs\t\n", width, r.Mode, r.Crashes, r.Checked, r.Torn, r.Lost, r.Elapsed.Seconds())
	}
	_ = tw.Flush()
}

// isTerminal reports whether f is a character device (a terminal, most
// likely), so a progress bar drawn with \r makes sense there.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/journal"
)

// The simulated-device mode (-sim PROFILE): the workloads run on untorn in
// journal mode over two blockdev.Mem (the data device and the journal
// device) with the limits of a drive this machine may not have, and the
// report is in bytes, not time: how many bytes the devices were written
// per byte of user data, for the hybrid (ModeAuto: units the drive writes
// untorn in hardware go home in place, the rest through the journal)
// against the journal alone (ModeJournal: every page written twice, once
// in a record and once home by a checkpoint).

// simProfiles are the drives -sim names.
var simProfiles = map[string]blockdev.Limits{
	"nvme16k": blockdev.LimitsNVMe,    // 4-16 KiB untorn, all in hardware
	"nvme64k": blockdev.LimitsNVMe64K, // 4-64 KiB untorn, all in hardware
	"none":    blockdev.LimitsNone,    // no untorn writes at all
}

func simProfileNames() []string {
	var names []string
	for n := range simProfiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// simContenders are the modes compared: name and mode.
var simContenders = []struct {
	name string
	mode atomicio.Mode
}{{"hybrid", atomicio.ModeAuto}, {"journal-only", atomicio.ModeJournal}}

// simResult is one contender's run of one workload on simulated devices.
type simResult struct {
	Workload     string  `json:"workload"`
	Contender    string  `json:"contender"`
	UserBytes    int64   `json:"user_bytes"`    // bytes the workload wrote
	DataBytes    int64   `json:"data_bytes"`    // bytes written to the data device (in place and checkpoints)
	JournalBytes int64   `json:"journal_bytes"` // bytes written to the journal device (records, headers)
	InPlaceBytes int64   `json:"in_place_bytes"`
	RecordBytes  int64   `json:"record_bytes"` // page data in journal records
	HomeBytes    int64   `json:"home_bytes"`   // written home by checkpoints
	Ratio        float64 `json:"device_bytes_per_user_byte"`
}

// simReport is what -sim prints.
type simReport struct {
	Profile string          `json:"profile"`
	Limits  blockdev.Limits `json:"limits"`
	Config  config          `json:"config"`
	Results []simResult     `json:"results"`
}

// runSim runs every workload once per contender over simulated devices of
// the named profile and prints the bytes written.
func runSim(ctx context.Context, o options, profile string, wls []workload, out io.Writer) error {
	l, ok := simProfiles[profile]
	if !ok {
		return fmt.Errorf("%w: -sim %q (want one of %s)", errBadFlag, profile, strings.Join(simProfileNames(), ", "))
	}
	rep := simReport{Profile: profile, Limits: l,
		Config: config{Size: int64(o.size), CacheSize: int64(o.cache), Reps: 1, Ops: o.ops, SyncEvery: o.syncEvery, Seed: o.seed}}
	for _, w := range wls {
		rep.Config.Workloads = append(rep.Config.Workloads, w.Name)
		for _, c := range simContenders {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
			res, err := simRun(o, l, w, c.mode)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", w.Name, c.name, err)
			}
			res.Contender = c.name
			rep.Results = append(rep.Results, res)
		}
	}
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.write(out)
	return nil
}

// simRun runs w once in mode over a data Mem of -size and a journal Mem
// with limits l, from Open to Close (the last checkpoint included), and
// counts the bytes each device was written after Open.
func simRun(o options, l blockdev.Limits, w workload, mode atomicio.Mode) (simResult, error) {
	res := simResult{Workload: w.Name}
	const capacity = journal.DefaultCapacity
	size := int64(o.size) / 4096 * 4096
	data, err := blockdev.NewMem(size, l)
	if err != nil {
		return res, err
	}
	jdev, err := blockdev.NewMem(capacity+2*4096, l) // the record area and the two header blocks
	if err != nil {
		return res, err
	}
	f, err := atomicio.OpenDeviceWithJournal(data, jdev, atomicio.Options{Mode: mode, Size: size,
		CacheSize: int64(o.cache), JournalSize: capacity})
	if err != nil {
		return res, err
	}
	d0, j0 := data.Stats().BytesWritten, jdev.Stats().BytesWritten // Format's writes
	pool := makePool(w.PageSize, o.seed)
	buf := make([]byte, w.PageSize)
	writes := 0
	for i, op := range w.plan(o.seed) {
		if op.read {
			if _, err := f.ReadAt(buf, op.off); err != nil {
				_ = f.Abandon()
				return res, fmt.Errorf("read: %w", err)
			}
			continue
		}
		if _, err := atomicio.WriteAt(f, pool.page(uint64(i)), op.off); err != nil {
			_ = f.Abandon()
			return res, fmt.Errorf("write: %w", err)
		}
		res.UserBytes += int64(w.PageSize)
		if writes++; writes%w.SyncEvery == 0 {
			if err := f.Sync(); err != nil {
				_ = f.Abandon()
				return res, fmt.Errorf("sync: %w", err)
			}
		}
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("close: %w", err)
	}
	st := f.Stats().Journal // Close's last Sync and checkpoint included
	// Close's checkpoint wrote the rest home: count it from the devices.
	res.DataBytes = data.Stats().BytesWritten - d0
	res.JournalBytes = jdev.Stats().BytesWritten - j0
	res.InPlaceBytes, res.RecordBytes = st.InPlaceBytes, st.RecordBytes
	res.HomeBytes = res.DataBytes - res.InPlaceBytes
	if res.UserBytes > 0 {
		res.Ratio = float64(res.DataBytes+res.JournalBytes) / float64(res.UserBytes)
	}
	return res, nil
}

func (r simReport) write(out io.Writer) {
	fmt.Fprintf(out, "simulated devices (-sim %s): data and journal blockdev.Mem, untorn writes %s..%s, in hardware up to %s\n",
		r.Profile, formatSize(int64(r.Limits.AtomicMin)), formatSize(int64(r.Limits.AtomicMax)), formatSize(int64(r.Limits.AtomicHardwareMax)))
	fmt.Fprintf(out, "file %s, cache %s, %d page ops, Sync every %d writes; bytes written from Open to Close (the last checkpoint included)\n\n",
		formatSize(r.Config.Size), formatSize(r.Config.CacheSize), r.Config.Ops, r.Config.SyncEvery)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcontender\tuser\tdata dev\tjournal dev\tin place\thome (ckpt)\tdevice bytes / user byte\t")
	for _, s := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t\n", s.Workload, s.Contender, formatSize(s.UserBytes), formatSize(s.DataBytes),
			formatSize(s.JournalBytes), formatSize(s.InPlaceBytes), formatSize(s.HomeBytes), s.Ratio)
	}
	_ = tw.Flush()
}

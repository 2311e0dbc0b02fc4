package main

import (
	"fmt"
	"math"
)

// diskUser is a contender that can tell how much disk its data file takes
// for the data it holds (untorn): the report's disk/live column. runOnce
// asks after the run's last Sync, before Close.
type diskUser interface {
	// diskUse returns the bytes of disk the data file occupies with its
	// side files (st_blocks * 512), its live data (its logical size) and
	// its apparent size (st_size, what ls -l shows).
	diskUse() (disk, live, apparent int64, err error)
}

// diskSummary is the medians over runs of the disk use figures.
type diskSummary struct {
	Disk, Live int64
	PerLive    fig // median of disk over live bytes; NaN unless every run measured both
	// ApparentPerLive is the median of the apparent size over live bytes.
	ApparentPerLive fig
}

// summarizeDisk reduces the runs' disk use to medians.
func summarizeDisk(runs []runResult) diskSummary {
	d := diskSummary{PerLive: fig(math.NaN()), ApparentPerLive: fig(math.NaN())}
	for _, r := range runs {
		if r.DiskBytes <= 0 || r.LiveBytes <= 0 {
			return d
		}
	}
	if len(runs) == 0 {
		return d
	}
	d.Disk = int64(medianOf(runs, func(r runResult) float64 { return float64(r.DiskBytes) }))
	d.Live = int64(medianOf(runs, func(r runResult) float64 { return float64(r.LiveBytes) }))
	d.PerLive = fig(medianOf(runs, func(r runResult) float64 { return ratio(r.DiskBytes, r.LiveBytes) }))
	d.ApparentPerLive = fig(medianOf(runs, func(r runResult) float64 { return ratio(r.ApparentBytes, r.LiveBytes) }))
	return d
}

// diskCell prints a disk/live figure like 1.52x, "-" when not measured.
func diskCell(f fig) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

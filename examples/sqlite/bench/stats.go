package main

import (
	"math"
	"time"

	"github.com/untorn/untorn/internal/benchstat"
)

// medianOf applies median to one figure of every run.
func medianOf(runs []result, figure func(result) float64) float64 {
	xs := make([]float64, 0, len(runs))
	for _, r := range runs {
		xs = append(xs, figure(r))
	}
	return benchstat.Median(xs)
}

// summary is the medians over the runs of one contender in one workload.
type summary struct {
	Contender string
	Durable   bool
	Runs      int
	Err       error // the first run that failed; its figures are left out

	Rate float64 // transactions (bank, insert100) or operations (mixed) per second
	// RateWithClose is Rate with the time of closing the database (Close)
	// added to the measured part.
	RateWithClose    float64
	Close            time.Duration // closing the database after the measured part
	TxP50, TxP99     time.Duration
	ReadP50, ReadP99 time.Duration // mixed only
	BytesPerTx       float64       // write_bytes per transaction; NaN if unknown
	SyscallPerTx     float64       // wchar per transaction; NaN if unknown
	BatchesPerTx     float64       // untorn only; NaN otherwise
	AuxOpensPerTx    float64       // untorn only; NaN otherwise
	BatchBytesPerTx  float64       // untorn only: bytes of pages in its batches; NaN otherwise
	// Journal mode's checkpoints in the measured part (medians): how
	// many, the bytes they wrote home, their time, commits that waited
	// for room; and the bytes in the journal when it began.
	Checkpoints, HomeBytes, RoomWaits, JournalAtStart float64
	CheckpointTime                                    time.Duration
	Accounts                                          int64 // of the first run (bank, mixed)
	DBBytes                                           int64 // database size after the prefill, of the first run
}

// summarize reduces the runs of one contender to medians.
func summarize(c *contender, runs []result, err error) summary {
	s := summary{Contender: c.name, Durable: c.durable, Runs: len(runs), Err: err}
	perTx := func(n int64, r result) float64 {
		if r.Txs == 0 {
			return math.NaN()
		}
		return float64(n) / float64(r.Txs)
	}
	if len(runs) > 0 {
		s.Accounts, s.DBBytes = runs[0].Accounts, runs[0].DBBytes
	}
	s.Rate = medianOf(runs, func(r result) float64 { return float64(r.Txs+r.Reads) / r.Elapsed.Seconds() })
	s.RateWithClose = medianOf(runs, func(r result) float64 { return float64(r.Txs+r.Reads) / (r.Elapsed + r.Close).Seconds() })
	s.Close = medianDuration(runs, func(r result) time.Duration { return r.Close })
	s.TxP50 = medianDuration(runs, func(r result) time.Duration { return benchstat.Percentile(r.TxLat, 0.50) })
	s.TxP99 = medianDuration(runs, func(r result) time.Duration { return benchstat.Percentile(r.TxLat, 0.99) })
	s.ReadP50 = medianDuration(runs, func(r result) time.Duration { return benchstat.Percentile(r.ReadLat, 0.50) })
	s.ReadP99 = medianDuration(runs, func(r result) time.Duration { return benchstat.Percentile(r.ReadLat, 0.99) })
	s.BytesPerTx = medianOf(runs, func(r result) float64 {
		if !r.IOKnown {
			return math.NaN()
		}
		return perTx(r.IO.WriteBytes, r)
	})
	s.SyscallPerTx = medianOf(runs, func(r result) float64 {
		if !r.IOKnown {
			return math.NaN()
		}
		return perTx(r.IO.WChar, r)
	})
	s.BatchesPerTx, s.AuxOpensPerTx, s.BatchBytesPerTx = math.NaN(), math.NaN(), math.NaN()
	s.Checkpoints = medianOf(runs, func(r result) float64 { return float64(r.Journal.Checkpoints) })
	s.HomeBytes = medianOf(runs, func(r result) float64 { return float64(r.Journal.HomeBytes) })
	s.RoomWaits = medianOf(runs, func(r result) float64 { return float64(r.Journal.RoomWaits) })
	s.JournalAtStart = medianOf(runs, func(r result) float64 { return float64(r.JournalAtStart) })
	s.CheckpointTime = medianDuration(runs, func(r result) time.Duration { return r.Journal.CheckpointTime })
	if c.untorn != nil {
		s.BatchesPerTx = medianOf(runs, func(r result) float64 { return perTx(r.Batches, r) })
		s.AuxOpensPerTx = medianOf(runs, func(r result) float64 { return perTx(r.AuxOpens, r) })
		s.BatchBytesPerTx = medianOf(runs, func(r result) float64 { return perTx(r.BatchBytes, r) })
	}
	return s
}

// medianDuration is medianOf for a duration figure.
func medianDuration(runs []result, figure func(result) time.Duration) time.Duration {
	m := medianOf(runs, func(r result) float64 { return float64(figure(r)) })
	if math.IsNaN(m) {
		return 0
	}
	return time.Duration(m)
}

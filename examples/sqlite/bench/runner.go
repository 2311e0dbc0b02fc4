package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/untorn/untorn/blockdev/journal"
)

// result is what one run of one contender on one workload measured.
type result struct {
	Elapsed time.Duration // the measured part
	Txs     int64         // transactions committed in the measured part
	Reads   int64         // reads in the measured part (mixed)
	TxLat   []time.Duration
	ReadLat []time.Duration
	IO      procIO // growth of the process's I/O counters over the measured part
	IOKnown bool   // false: /proc/self/io could not be read
	// Batches and AuxOpens are the untorn VFS's batches and files opened
	// through its Aux VFS (journals) in the measured part.
	Batches, AuxOpens, BatchBytes int64
	Accounts                      int64 // accounts in the database (bank, mixed)
	DBBytes                       int64 // database size after the prefill
	// Journal is what untorn's journal did in the measured part
	// (journal mode; zero otherwise): checkpoints, the bytes they wrote
	// home and their time. JournalAtStart is the bytes the journal held
	// when the measured part began.
	Journal        journal.Stats
	JournalAtStart int64
	// Close is the time closing the database took after the measured part:
	// the work a contender left for later (untorn in journal mode: the
	// final checkpoint, which writes every page still only in the journal
	// home; WAL: its checkpoint).
	Close time.Duration
}

// runOnce runs workload w once on contender c, on a new database in a
// new temporary directory inside parent (removed at the end). Every run
// with the same run number draws the same operations.
func runOnce(ctx context.Context, parent string, c *contender, w workload, o options, run int) (res result, err error) {
	dir, err := os.MkdirTemp(parent, "sqlite-bench-"+c.name+"-")
	if err != nil {
		return res, fmt.Errorf("make the run directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the run directory: %w", rerr))
		}
	}()
	path := filepath.Join(dir, "bench.db")
	db, err := c.open(path, w.cacheKiB(o))
	if err != nil {
		return res, err
	}
	dbOpen := true
	defer func() {
		if !dbOpen {
			return
		}
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close the database: %w", cerr))
		}
	}()
	d, err := w.setup(db, o)
	if err != nil {
		return res, fmt.Errorf("prefill: %w", err)
	}
	stmtsOpen := true
	defer func() {
		if stmtsOpen {
			err = errors.Join(err, d.close())
		}
	}()
	if c.wal() {
		// Start the measured part, as in the other modes, with the
		// prefill in the database file.
		if err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return res, fmt.Errorf("checkpoint the prefill: %w", err)
		}
	}
	if err := c.drainJournal(path); err != nil {
		return res, err
	}
	if res.DBBytes, err = dbBytes(db); err != nil {
		return res, err
	}
	res.Accounts = d.accountCount()

	rng := rand.New(rand.NewPCG(o.seed, uint64(run)))
	n := w.ops(o)
	for range max(1, n/warmupShare) {
		if _, _, err := d.op(rng); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	runtime.GC()

	res.TxLat = make([]time.Duration, 0, n)
	if w.mixed {
		res.ReadLat = make([]time.Duration, 0, n)
	}
	ioBefore, ioErr := readProcIO()
	statsBefore := c.untornStats()
	jBefore := c.journalStats(path)
	res.JournalAtStart = jBefore.LogBytes
	start := time.Now()
	for i := range n {
		if i%64 == 0 && ctx.Err() != nil {
			return res, fmt.Errorf("interrupted: %w", ctx.Err())
		}
		tx, lat, err := d.op(rng)
		if err != nil {
			return res, err
		}
		if tx {
			res.Txs++
			res.TxLat = append(res.TxLat, lat)
		} else {
			res.Reads++
			res.ReadLat = append(res.ReadLat, lat)
		}
	}
	res.Elapsed = time.Since(start)
	statsAfter := c.untornStats()
	jAfter := c.journalStats(path)
	res.Journal = journal.Stats{
		Checkpoints:    jAfter.Checkpoints - jBefore.Checkpoints,
		HomeBytes:      jAfter.HomeBytes - jBefore.HomeBytes,
		CheckpointTime: jAfter.CheckpointTime - jBefore.CheckpointTime,
		RoomWaits:      jAfter.RoomWaits - jBefore.RoomWaits,
	}
	ioAfter, ioErr2 := readProcIO()
	if ioErr == nil && ioErr2 == nil {
		res.IO, res.IOKnown = ioAfter.sub(ioBefore), true
	}
	res.Batches = statsAfter.Batches - statsBefore.Batches
	res.AuxOpens = statsAfter.AuxOpens - statsBefore.AuxOpens
	res.BatchBytes = statsAfter.BatchBytes - statsBefore.BatchBytes
	if err := d.check(); err != nil {
		return res, err
	}
	stmtsOpen = false
	if err := d.close(); err != nil {
		return res, err
	}
	dbOpen = false
	start = time.Now()
	if err := db.Close(); err != nil {
		return res, fmt.Errorf("close the database: %w", err)
	}
	res.Close = time.Since(start)
	return res, nil
}

package main

import (
	"time"
)

// The device's own bound for one durable commit (benchstat.DeviceBound),
// measured in the same run: no VFS can commit a transaction durably with
// less (WAL does the same: one write and one fdatasync), so it plus
// SQLite's own time per transaction is the ceiling of any contender at
// synchronous=FULL.

// ceiling is the best a durable contender could do on a workload here.
type ceiling struct {
	Bytes  int           // untorn's bytes written per transaction (the commit's size)
	Bound  time.Duration // the device bound for that many bytes (p50)
	SQLite time.Duration // SQLite's own time per transaction: wal-normal's p50, which syncs nothing
}

// rate is the transactions per second at the ceiling.
func (c ceiling) rate() float64 { return 1 / (c.Bound + c.SQLite).Seconds() }

package main

import (
	"runtime"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/benchstat"
)

// machine describes where the benchmark ran.
type machine struct {
	Date       string
	Kernel     string
	CPUs       int
	Go         string
	SQLite     string
	Dir        string
	FileSystem string
}

func describeMachine(dir string) machine {
	m := machine{
		Date:       time.Now().Format(time.RFC3339),
		Kernel:     "unknown",
		CPUs:       runtime.NumCPU(),
		Go:         runtime.Version(),
		SQLite:     sqliteVersion(),
		Dir:        dir,
		FileSystem: benchstat.FileSystem(dir),
	}
	m.Kernel = benchstat.Kernel() + " " + runtime.GOARCH
	return m
}

// sqliteVersion asks an in-memory database; "unknown" if that fails.
func sqliteVersion() string {
	db, err := sqlite3.Open(":memory:")
	if err != nil {
		return "unknown"
	}
	defer db.Close()
	st, _, err := db.Prepare("SELECT sqlite_version()")
	if err != nil {
		return "unknown"
	}
	defer st.Close()
	if !st.Step() {
		return "unknown"
	}
	return st.ColumnText(0)
}

// freeBytes is the space an unprivileged user can still use in dir.
func freeBytes(dir string) (int64, error) {
	return blockdev.FreeBytes(dir)
}

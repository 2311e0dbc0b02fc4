package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// The committers workload: G goroutines each write a 4 KiB page of their
// own and make it durable, over and over, as the transactions of a storage
// engine commit each with a Sync. What it measures is how well concurrent
// Syncs share the device's flushes (group commit).

// commitPage is the page each committer writes.
const commitPage = 4 << 10

// committerGs are the numbers of goroutines the workload runs.
var committerGs = []int{1, 2, 8, 32, 128}

// committer is a contender of the committers workload: one file that many
// goroutines write and sync at once, each a page of its own.
type committer interface {
	Name() string
	// Open opens the contender's file in dir, size bytes, creating it the
	// first time. An error wrapping errNotApplicable means it cannot run
	// here.
	Open(dir string, size int64) error
	// Write writes p at off; Sync makes every Write before it durable.
	// Both are safe for concurrent use.
	Write(p []byte, off int64) error
	Sync() error
	Close() error
}

// commitCounts are an untorn committer's counters (zero for the kernel).
type commitCounts struct {
	Passes, Flushes, Joined, Batches, Bytes int64
	CommitTime, FlushTime                   time.Duration // the container's record writes and flushes (COW)
	// The container's checkpoints (interval ones and those that end
	// cleaning rounds, which let freed log segments be used again) and
	// zero fills of new segments, and their time.
	Checkpoints, Fills int64
	CheckpointTime     time.Duration
}

func (c commitCounts) minus(o commitCounts) commitCounts {
	return commitCounts{Passes: c.Passes - o.Passes, Flushes: c.Flushes - o.Flushes, Joined: c.Joined - o.Joined,
		Batches: c.Batches - o.Batches, Bytes: c.Bytes - o.Bytes,
		CommitTime: c.CommitTime - o.CommitTime, FlushTime: c.FlushTime - o.FlushTime,
		Checkpoints: c.Checkpoints - o.Checkpoints, Fills: c.Fills - o.Fills, CheckpointTime: c.CheckpointTime - o.CheckpointTime}
}

// counter is a committer that counts its passes and flushes (untorn).
type counter interface{ counts() commitCounts }

// committerNames lists the committers contenders in report order.
func committerNames() []string {
	names := make([]string, 0, len(untornModes)+1)
	for _, m := range untornModes {
		names = append(names, m.name)
	}
	return append(names, "buffered")
}

// newCommitter builds a committers contender by name.
func newCommitter(name string) (committer, error) {
	for _, m := range untornModes {
		if m.name == name {
			return &untornCommitter{name: m.name, mode: m.mode}, nil
		}
	}
	if name == "buffered" {
		return &bufferedCommitter{}, nil
	}
	return nil, fmt.Errorf("%w: unknown committers contender %q", errBadFlag, name)
}

// untornCommitter commits with atomicio.WriteAt and File.Sync on a file
// made with default Options (but the mode).
type untornCommitter struct {
	name string
	mode atomicio.Mode
	f    *atomicio.File
}

func (u *untornCommitter) Name() string { return u.name }

func (u *untornCommitter) Open(dir string, size int64) error {
	f, _, err := openUntorn(u.name, filepath.Join(dir, "committers-"+u.name+".dat"), atomicio.Options{Mode: u.mode, Size: size})
	u.f = f
	return err
}

func (u *untornCommitter) Write(p []byte, off int64) error {
	_, err := atomicio.WriteAt(u.f, p, off)
	return err
}

func (u *untornCommitter) Sync() error { return u.f.Sync() }

func (u *untornCommitter) Close() error { return u.f.Close() }

func (u *untornCommitter) counts() commitCounts {
	s := u.f.Stats()
	if j := s.Journal; s.Mode == atomicio.ModeJournal {
		// The journal's checkpoints run beside the commits (in the
		// background); a commit waits for one only when the journal is full.
		return commitCounts{Passes: s.Writeback.Passes, Flushes: j.Flushes, Joined: s.Writeback.SyncsJoined,
			Batches: s.Writeback.Batches, Bytes: s.Writeback.BytesWritten, CommitTime: j.CommitTime, FlushTime: j.FlushTime,
			Checkpoints: j.Checkpoints, CheckpointTime: j.CheckpointTime}
	}
	return commitCounts{Passes: s.Writeback.Passes, Flushes: s.COW.Flushes, Joined: s.Writeback.SyncsJoined,
		Batches: s.Writeback.Batches, Bytes: s.Writeback.BytesWritten, CommitTime: s.COW.CommitTime, FlushTime: s.COW.FlushTime,
		Checkpoints: s.COW.Checkpoints, Fills: s.COW.Fills, CheckpointTime: s.COW.CheckpointTime + s.COW.CleanCheckpointTime}
}

// describe says which mode untorn-auto resolved to.
func (u *untornCommitter) describe() string { return u.f.Mode().String() }

// bufferedCommitter is the kernel: pwrite into its page cache, then
// fdatasync. NOT torn-safe.
type bufferedCommitter struct{ f *os.File }

func (b *bufferedCommitter) Name() string { return "buffered" }

func (b *bufferedCommitter) Open(dir string, size int64) error {
	f, err := openPrefilled(filepath.Join(dir, "committers-buffered.dat"), size)
	b.f = f
	return err
}

func (b *bufferedCommitter) Write(p []byte, off int64) error {
	_, err := b.f.WriteAt(p, off)
	return err
}

func (b *bufferedCommitter) Sync() error { return blockdev.SyncData(b.f) }

func (b *bufferedCommitter) Close() error { return b.f.Close() }

// commitPoint is one run of one contender at one G.
type commitPoint struct {
	Commits int64
	Elapsed time.Duration
	Lat     []time.Duration // every Sync's latency
	Counts  commitCounts
	Mode    string
	CPUWait time.Duration // the process's threads waited this long for a CPU during the point; -1 unknown
}

// runCommitPoint opens c, lets g goroutines commit their pages (a Write,
// then a Sync, whose latency counts) for d, and closes it. Goroutine i writes the page at i*commitPage, stamped with its
// number and a sequence number.
func runCommitPoint(c committer, dir string, size int64, g int, d time.Duration) (res commitPoint, err error) {
	if err := c.Open(dir, size); err != nil {
		return res, err
	}
	defer func() {
		if cerr := c.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", c.Name(), cerr)
		}
	}()
	if ds, ok := c.(describer); ok {
		res.Mode = ds.describe()
	}
	cnt, counted := c.(counter)
	var before commitCounts
	if counted {
		before = cnt.counts()
	}
	lats := make([][]time.Duration, g)
	errs := make([]error, g)
	var wg sync.WaitGroup
	wait0 := runqueueWait()
	start := time.Now()
	deadline := start.Add(d)
	for i := range g {
		wg.Go(func() {
			p := makeAlignedPage(commitPage)
			binary.LittleEndian.PutUint64(p[8:], uint64(i))
			lat := make([]time.Duration, 0, 1024)
			for seq := uint64(1); time.Now().Before(deadline); seq++ {
				binary.LittleEndian.PutUint64(p, seq)
				if err := c.Write(p, int64(i)*commitPage); err != nil {
					errs[i] = fmt.Errorf("%s: write: %w", c.Name(), err)
					return
				}
				t0 := time.Now()
				if err := c.Sync(); err != nil {
					errs[i] = fmt.Errorf("%s: sync: %w", c.Name(), err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			lats[i] = lat
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.CPUWait = -1
	if w := runqueueWait(); wait0 >= 0 && w >= 0 {
		res.CPUWait = w - wait0
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	for _, l := range lats {
		res.Lat = append(res.Lat, l...)
	}
	res.Commits = int64(len(res.Lat))
	if counted {
		res.Counts = cnt.counts().minus(before)
	}
	return res, nil
}

// makeAlignedPage returns a page of n bytes aligned for O_DIRECT, filled
// with a pattern.
func makeAlignedPage(n int) []byte {
	p := blockdev.AlignedBuffer(n, 4096)
	fillPattern(p, 0)
	return p
}

package main

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/journal"
)

// journalWindow is how many bytes journal-bound appends between its
// checkpoints: the journal's checkpoint threshold, half its capacity
// (fileConfig.JournalSize, or the default).
func journalWindow(cfg fileConfig) int64 {
	if cfg.JournalSize > 0 {
		return cfg.JournalSize / 2
	}
	return journal.DefaultCapacity / 2
}

// homeDepth is how many home writes journal-bound keeps in flight (the
// journal's default QueueDepth).
const homeDepth = journal.DefaultQueueDepth

// journalBound is the bound of a journal design, the way seq-append is
// the bound of any torn-safe design: seq-append's appends (the journal:
// every page once, one flush per Sync) plus the least its checkpoints
// must write: after every journalWindow bytes appended, each distinct page
// written since goes home once, O_DIRECT into a data file written before,
// homeDepth writes in flight, in offset order, then the data file is
// fdatasynced; Close sends the last ones home. It reads nothing back (a
// real journal reads its images back from the journal, or would need
// them in memory) and, like seq-append, cannot read: it is writeOnly.
type journalBound struct {
	log   seqAppend
	home  *blockdev.File
	dirty map[int64]int // page offset -> length, written since the last checkpoint
	mark  int64         // log bytes written at the last checkpoint
	win   int64         // journalWindow
	buf   []byte        // what home writes write (the content does not matter to the time)
	homed int64         // bytes written home
}

var (
	_ contender = (*journalBound)(nil)
	_ writeOnly = (*journalBound)(nil)
)

func (j *journalBound) Name() string    { return "journal-bound" }
func (j *journalBound) writeOnly() bool { return true }

func (j *journalBound) Open(cfg fileConfig) error {
	j.log.label = "journal-bound"
	if err := j.log.Open(cfg); err != nil {
		return err
	}
	path := cfg.path(j.Name(), ".dat")
	if err := prefillFile(path, cfg.Size); err != nil {
		_ = j.log.Close()
		return err
	}
	home, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	if err != nil {
		_ = j.log.Close()
		return fmt.Errorf("%s: %w", j.Name(), err)
	}
	j.home, j.dirty, j.mark, j.homed, j.win = home, map[int64]int{}, 0, 0, journalWindow(cfg)
	j.buf = blockdev.AlignedBuffer(appendSize, max(home.Limits().MemAlign, 4096))
	return nil
}

func (j *journalBound) Write(p []byte, off int64) error {
	if err := j.log.Write(p, off); err != nil {
		return err
	}
	j.dirty[off] = max(j.dirty[off], len(p))
	return nil
}

func (j *journalBound) Read([]byte, int64) error {
	return notApplicable("%s cannot read (write-only bound)", j.Name())
}

func (j *journalBound) Sync() error {
	if err := j.log.Sync(); err != nil {
		return err
	}
	if j.log.written-j.mark >= j.win {
		return j.checkpoint()
	}
	return nil
}

// checkpoint writes every page written since the last one home and
// flushes the data file.
func (j *journalBound) checkpoint() error {
	j.mark = j.log.written
	if len(j.dirty) == 0 {
		return nil
	}
	offs := make([]int64, 0, len(j.dirty))
	for off := range j.dirty {
		offs = append(offs, off)
	}
	slices.Sort(offs)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, homeDepth)
	for _, off := range offs {
		n := j.dirty[off]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w, err := j.home.WriteAt(j.buf[:n], off, 0)
			mu.Lock()
			j.homed += int64(w)
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	clear(j.dirty)
	if first != nil {
		return fmt.Errorf("%s: home write: %w", j.Name(), first)
	}
	return j.home.Flush()
}

func (j *journalBound) Close() error {
	err := j.log.Sync()
	if err == nil {
		err = j.checkpoint()
	}
	err = errors.Join(err, j.log.Close(), j.home.Close())
	j.home = nil
	return err
}

func (j *journalBound) BytesWritten() int64 { return j.log.written + j.homed }

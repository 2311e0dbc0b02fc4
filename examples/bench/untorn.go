package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

const (
	modeAuto    = atomicio.ModeAuto
	modeNative  = atomicio.ModeNative
	modeCOW     = atomicio.ModeCOW
	modeJournal = atomicio.ModeJournal
)

// fillChunk is the write size used to fill a new data file once.
const fillChunk = 1 << 20

// untorn writes each page with atomicio.WriteAt through atomicio.Open.
type untorn struct {
	name string
	mode atomicio.Mode
	path string // the data file
	f    *atomicio.File
	base int64 // Stats().Writeback.BytesWritten at Open
	// agedCleaned is how many blocks the container's cleaner moved while
	// Open aged the new file (see age).
	agedCleaned int64
}

var (
	_ contender   = (*untorn)(nil)
	_ breakdowner = (*untorn)(nil)
	_ describer   = (*untorn)(nil)
	_ diskUser    = (*untorn)(nil)
)

func newUntorn(name string, mode atomicio.Mode) *untorn { return &untorn{name: name, mode: mode} }

func (u *untorn) Name() string { return u.name }

// openUntorn opens (or creates) the untorn file at path for contender
// name. It reports whether the file is new; where the mode cannot run it
// fails wrapping errNotApplicable; a file it created and could not open
// is removed.
func openUntorn(name, path string, opts atomicio.Options) (f *atomicio.File, fresh bool, err error) {
	_, err = os.Stat(path)
	fresh = errors.Is(err, fs.ErrNotExist)
	f, err = atomicio.Open(path, opts)
	if err != nil && fresh {
		_ = os.Remove(path)
	}
	switch {
	case errors.Is(err, atomicio.ErrNoUntornWrites), errors.Is(err, atomicio.ErrNotContainer):
		return nil, fresh, notApplicable("%w", err)
	case err != nil:
		return nil, fresh, fmt.Errorf("%s: %w", name, err)
	}
	return f, fresh, nil
}

func (u *untorn) Open(cfg fileConfig) error {
	path := cfg.path(u.name, ".dat")
	u.path = path
	f, fresh, err := openUntorn(u.name, path, createOptions(cfg, u.mode))
	if err != nil {
		return err
	}
	if f.Size() < cfg.Size {
		_ = f.Close()
		return fmt.Errorf("%w: %s holds %d bytes, the run needs %d (remove it or use a fresh -dir)",
			errBadFlag, path, f.Size(), cfg.Size)
	}
	u.f = f
	if fresh {
		// Fill (and age), then reopen, so that the first run starts with
		// a cold cache like every later one.
		err := u.fill(cfg.Size)
		if err == nil && f.Mode() == atomicio.ModeCOW && cfg.Age > 0 {
			err = u.age(cfg)
			u.agedCleaned = f.Stats().COW.CleanedBlocks
		}
		err = errors.Join(err, f.Close())
		if err == nil {
			u.f, err = atomicio.Open(path, atomicio.Options{CacheSize: cfg.CacheSize, Mode: u.mode, JournalSize: cfg.JournalSize})
		}
		if err != nil {
			u.f = nil
			_ = os.Remove(path)
			return err
		}
	}
	u.base = u.f.Stats().Writeback.BytesWritten
	return nil
}

// createOptions are the Options a new data file is created with: what a
// new user writes, the defaults but for the size, the cache budget, the
// mode and -cow-spare (0 keeps the default headroom). No Preallocate: a
// COW container takes disk space as its log takes segments, and its
// cleaner keeps that near the live data plus COWSparePercent of it (the
// disk/live column shows where it settles). No MaxSize: the container may
// grow to DefaultMaxSize, a limit that costs no disk space (the file is
// sparse).
func createOptions(cfg fileConfig, mode atomicio.Mode) atomicio.Options {
	return atomicio.Options{Size: cfg.Size, CacheSize: cfg.CacheSize, Mode: mode, COWSparePercent: cfg.COWSpare, JournalSize: cfg.JournalSize}
}

// fill writes the whole data file once (untimed), so that every page is
// mapped and allocated before the first measured run.
// The chunk halves while the File calls it too large (small caches).
func (u *untorn) fill(size int64) error {
	chunk := int64(fillChunk)
	buf := make([]byte, chunk)
	for off := int64(0); off < size; {
		p := buf[:min(chunk, size-off)]
		fillPattern(p, off)
		_, err := atomicio.WriteAt(u.f, p, off)
		if errors.Is(err, atomicio.ErrTooLarge) && chunk > patternBlock {
			chunk /= 2
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: fill: %w", u.name, err)
		}
		off += int64(len(p))
	}
	if err := u.f.Sync(); err != nil {
		return fmt.Errorf("%s: fill: %w", u.name, err)
	}
	return nil
}

// age overwrites random pages of the file, cfg.Age times its size in
// all, syncing every agePages pages: a COW container then holds the
// fragmented log of a long-lived file, and its cleaner runs in every later
// run as it would in production, instead of living off the free space of
// a new container.
func (u *untorn) age(cfg fileConfig) error {
	page := int64(max(cfg.PageSize, 4096))
	pages := cfg.Size / page
	if pages == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Size), 7))
	buf := make([]byte, page)
	total := int64(cfg.Age * float64(cfg.Size) / float64(page))
	for i := int64(1); i <= total; i++ {
		off := rng.Int64N(pages) * page
		fillPattern(buf, off^i)
		if _, err := atomicio.WriteAt(u.f, buf, off); err != nil {
			return fmt.Errorf("%s: age: %w", u.name, err)
		}
		if i%agePages == 0 || i == total {
			if err := u.f.Sync(); err != nil {
				return fmt.Errorf("%s: age: %w", u.name, err)
			}
		}
	}
	return nil
}

// agePages is how many pages aging writes between Syncs.
const agePages = 1024

// breakdown reads the container's or the journal's time counters (zero
// in native mode).
func (u *untorn) breakdown() timeBreakdown {
	st := u.f.Stats()
	if j := st.Journal; st.Mode == atomicio.ModeJournal {
		return timeBreakdown{Commit: j.CommitTime, Flush: j.FlushTime, Checkpoint: j.CheckpointTime,
			Journal: true, Home: j.HomeTime, ReadBack: j.ReadTime, RoomWaits: j.RoomWaits,
			HomeBytes: j.HomeBytes, Superseded: j.Superseded, Checkpoints: j.Checkpoints}
	}
	c := st.COW
	return timeBreakdown{Commit: c.CommitTime, Flush: c.FlushTime, Clean: c.CleanTime, Checkpoint: c.CheckpointTime,
		CleanRead: c.CleanReadTime, CleanCheckpoint: c.CleanCheckpointTime}
}

func (u *untorn) Write(p []byte, off int64) error {
	_, err := atomicio.WriteAt(u.f, p, off)
	return err
}

func (u *untorn) Read(p []byte, off int64) error {
	_, err := u.f.ReadAt(p, off)
	return err
}

func (u *untorn) Sync() error { return u.f.Sync() }

func (u *untorn) Close() error {
	err := u.f.Close()
	u.f = nil
	return err
}

func (u *untorn) BytesWritten() int64 { return u.f.Stats().Writeback.BytesWritten - u.base }

// diskUse returns the disk the data file occupies (st_blocks * 512: in
// COW mode the container's live data, cleaning headroom and metadata; in
// journal mode the file and its journal), its live data (the File's
// logical size) and the file's apparent size (ls -l).
func (u *untorn) diskUse() (disk, live, apparent int64, err error) {
	st, err := os.Stat(u.path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("stat %s: %w", u.path, err)
	}
	apparent = st.Size()
	if disk, err = blockdev.DiskUse(u.path); err != nil {
		return 0, 0, 0, fmt.Errorf("stat %s: %w", u.path, err)
	}
	if j, err := blockdev.DiskUse(atomicio.JournalPath(u.path)); err == nil {
		disk += j
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, 0, 0, fmt.Errorf("stat the journal of %s: %w", u.path, err)
	}
	return disk, u.f.Size(), apparent, nil
}

// describe says which mode the File runs in (auto resolves to one).
func (u *untorn) describe() string {
	if u.f == nil {
		return ""
	}
	return u.f.Mode().String()
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"

	"github.com/untorn/untorn/atomicio"
)

const (
	modeAuto   = atomicio.ModeAuto
	modeNative = atomicio.ModeNative
	modeCOW    = atomicio.ModeCOW
)

// fillChunk is the write size used to fill a new data file once.
const fillChunk = 1 << 20

// untorn writes each page with atomicio.WriteAt through atomicio.Open.
type untorn struct {
	name string
	mode atomicio.Mode
	f    *atomicio.File
	base int64 // Stats().Writeback.BytesWritten at Open
	// agedCleaned is how many blocks the container's cleaner moved while
	// Open aged the new file (see age).
	agedCleaned int64
}

var _ contender = (*untorn)(nil)

func newUntorn(name string, mode atomicio.Mode) *untorn { return &untorn{name: name, mode: mode} }

func (u *untorn) Name() string { return u.name }

func (u *untorn) Open(cfg fileConfig) error {
	path := cfg.path(u.name, ".dat")
	_, err := os.Stat(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	// Preallocate: the other contenders' files are written whole by the fill, so the
	// file system has allocated them; the container's spare space must be too.
	// A container bounded at the file's size (MaxSize), as the other
	// contenders' files are: the cleaner's headroom is COWSparePercent of it.
	f, err := atomicio.Open(path, atomicio.Options{Size: cfg.Size, MaxSize: cfg.Size, CacheSize: cfg.CacheSize, Mode: u.mode, Preallocate: true,
		COWSparePercent: cfg.COWSpare})
	switch {
	case errors.Is(err, atomicio.ErrNoUntornWrites), errors.Is(err, atomicio.ErrNotContainer):
		if fresh {
			_ = os.Remove(path)
		}
		return notApplicable("%w", err)
	case err != nil:
		if fresh {
			_ = os.Remove(path)
		}
		return fmt.Errorf("%s: %w", u.name, err)
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
			u.f, err = atomicio.Open(path, atomicio.Options{CacheSize: cfg.CacheSize, Mode: u.mode})
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

// breakdown reads the container's time counters (zero in native mode).
func (u *untorn) breakdown() timeBreakdown {
	c := u.f.Stats().COW
	return timeBreakdown{Commit: c.CommitTime, Flush: c.FlushTime, Clean: c.CleanTime, Checkpoint: c.CheckpointTime}
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

// describe says which mode the File runs in (auto resolves to one).
func (u *untorn) describe() string {
	if u.f == nil {
		return ""
	}
	return u.f.Mode().String()
}

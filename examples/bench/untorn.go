package main

import (
	"errors"
	"fmt"
	"io/fs"
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
	f, err := atomicio.Open(path, atomicio.Options{Size: cfg.Size, CacheSize: cfg.CacheSize, Mode: u.mode, Preallocate: true})
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
		// Fill, then reopen, so that the first run starts with a cold
		// cache like every later one.
		err := u.fill(cfg.Size)
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

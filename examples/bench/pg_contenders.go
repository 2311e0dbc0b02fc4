package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// relStore is a contender of the pg-checkpoint workload: a set of relation
// files written page runs at a time, with checkpoints. The runner calls it
// from one goroutine.
type relStore interface {
	Name() string
	// Open opens (creating them the first time) the relation files in
	// dir. An error wrapping errNotApplicable means it cannot run here.
	Open(dir string, cfg pgConfig) error
	// Write writes p (whole pages) at off in relation rel.
	Write(rel int, p []byte, off int64) error
	// Checkpoint makes every write before it durable.
	Checkpoint() error
	Close() error
}

// pgConfig is what a pg-checkpoint contender needs to know to open.
type pgConfig struct {
	rels       []relation
	cacheSize  int64 // untorn's shared Cache
	checkpoint int64 // bytes of writes between checkpoints (sizes the WAL)
}

// pgNames lists the pg-checkpoint contenders in report order.
func pgNames() []string {
	names := make([]string, 0, len(untornModes)+2)
	for _, m := range untornModes {
		names = append(names, m.name)
	}
	return append(names, "buffered-fpi", "buffered")
}

// newRelStore builds a pg-checkpoint contender by name.
func newRelStore(name string) (relStore, error) {
	for _, m := range untornModes {
		if m.name == name {
			return &untornRels{name: m.name, mode: m.mode}, nil
		}
	}
	switch name {
	case "buffered-fpi":
		return &kernelRels{fpi: true}, nil
	case "buffered":
		return &kernelRels{}, nil
	}
	return nil, fmt.Errorf("%w: unknown pg-checkpoint contender %q", errBadFlag, name)
}

// untornRels keeps each relation in an atomicio.File, all on one shared
// Cache; every write is untorn; a checkpoint is Cache.Sync. Its files are
// made with default Options but the mode, the size and the Cache, and are
// not filled: a page never written reads as zeros.
type untornRels struct {
	name  string
	mode  atomicio.Mode
	cache *atomicio.Cache
	files []*atomicio.File
}

func (u *untornRels) Name() string { return u.name }

func (u *untornRels) Open(dir string, cfg pgConfig) error {
	dir = filepath.Join(dir, "pg-"+u.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	u.cache = atomicio.NewCache(cfg.cacheSize)
	u.files = u.files[:0]
	for i, rel := range cfg.rels {
		f, _, err := openUntorn(u.name, filepath.Join(dir, fmt.Sprintf("rel-%02d", i)), atomicio.Options{Cache: u.cache, Mode: u.mode, Size: rel.Size})
		if err != nil {
			_ = u.Close()
			return err
		}
		u.files = append(u.files, f)
	}
	return nil
}

// Write writes the run as one untorn write (a run is at most 128 KiB), or,
// where the native unit around it would be too large, page by page: each
// page is untorn either way.
func (u *untornRels) Write(rel int, p []byte, off int64) error {
	f := u.files[rel]
	_, err := atomicio.WriteAt(f, p, off)
	if !errors.Is(err, atomicio.ErrTooLarge) {
		return err
	}
	for o := 0; o < len(p); o += pgPage {
		if _, err := atomicio.WriteAt(f, p[o:o+pgPage], off+int64(o)); err != nil {
			return err
		}
	}
	return nil
}

func (u *untornRels) Checkpoint() error { return u.cache.Sync() }

func (u *untornRels) Close() error {
	var errs []error
	for _, f := range u.files {
		errs = append(errs, f.Close())
	}
	u.files = u.files[:0]
	return errors.Join(errs...)
}

// describe says which mode untorn-auto resolved to.
func (u *untornRels) describe() string {
	if len(u.files) == 0 {
		return ""
	}
	return u.files[0].Mode().String()
}

// breakdown sums the containers' time counters (COW mode).
func (u *untornRels) breakdown() timeBreakdown {
	var b timeBreakdown
	for _, f := range u.files {
		c := f.Stats().COW
		b = b.plus(timeBreakdown{Commit: c.CommitTime, Flush: c.FlushTime, Clean: c.CleanTime, Checkpoint: c.CheckpointTime,
			CleanRead: c.CleanReadTime, CleanCheckpoint: c.CleanCheckpointTime})
	}
	return b
}

// cowStats sums the containers' counters (COW mode).
func (u *untornRels) cowStats() cow.Stats {
	var s cow.Stats
	for _, f := range u.files {
		c := f.Stats().COW
		s.Flushes += c.Flushes
		s.Commits += c.Commits
		s.CleanedBlocks += c.CleanedBlocks
	}
	return s
}

// kernelRels is PostgreSQL's own path on this file system: buffered pwrite
// into the kernel's page cache and, at a checkpoint, fsync of every file
// written since the last one. With fpi, full-page images: the first write
// of each page after a checkpoint first appends the page to a WAL file and
// fdatasyncs it (PostgreSQL flushes the WAL up to a page's last change
// before it writes the page), which is what makes it torn-safe; the WAL is
// recycled at each checkpoint (it holds one checkpoint interval's worth,
// the most that interval can image). Without fpi it is not torn-safe. Both share
// the relation files, written whole once (prefilled), as an established
// database's are.
type kernelRels struct {
	fpi     bool
	files   []*os.File
	dirty   map[int]bool    // relations written since the last checkpoint
	imaged  map[[2]int]bool // (relation, page) imaged since the last checkpoint
	wal     *os.File
	walPos  int64
	walSize int64
	// Counters since Open.
	WALBytes, WALSyncs int64
}

func (k *kernelRels) Name() string {
	if k.fpi {
		return "buffered-fpi"
	}
	return "buffered"
}

// walSize is the size of the WAL file for checkpoints every ckpt bytes of
// writes: every page written in an interval may be imaged once.
func walSize(ckpt int64) int64 { return (ckpt+pgPage-1)/pgPage*pgPage + pgCombine*pgPage }

func (k *kernelRels) Open(dir string, cfg pgConfig) error {
	rels := cfg.rels
	dir = filepath.Join(dir, "pg-kernel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", k.Name(), err)
	}
	k.files = k.files[:0]
	for i, rel := range rels {
		f, err := openPrefilled(filepath.Join(dir, fmt.Sprintf("rel-%02d", i)), rel.Size)
		if err != nil {
			_ = k.Close()
			return fmt.Errorf("%s: %w", k.Name(), err)
		}
		k.files = append(k.files, f)
	}
	k.dirty, k.imaged = map[int]bool{}, map[[2]int]bool{}
	k.WALBytes, k.WALSyncs = 0, 0
	if !k.fpi {
		return nil
	}
	size := walSize(cfg.checkpoint)
	f, err := openPrefilled(filepath.Join(dir, "wal"), size)
	if err != nil {
		_ = k.Close()
		return fmt.Errorf("%s: %w", k.Name(), err)
	}
	k.wal, k.walPos, k.walSize = f, 0, size
	return nil
}

func (k *kernelRels) Write(rel int, p []byte, off int64) error {
	if k.fpi {
		imaged := false
		for o := 0; o < len(p); o += pgPage {
			key := [2]int{rel, int((off + int64(o)) / pgPage)}
			if k.imaged[key] {
				continue
			}
			k.imaged[key] = true
			if k.walPos+pgPage > k.walSize {
				k.walPos = 0
			}
			if _, err := k.wal.WriteAt(p[o:o+pgPage], k.walPos); err != nil {
				return fmt.Errorf("%s: wal: %w", k.Name(), err)
			}
			k.walPos += pgPage
			k.WALBytes += pgPage
			imaged = true
		}
		if imaged {
			if err := blockdev.SyncData(k.wal); err != nil {
				return fmt.Errorf("%s: wal fdatasync: %w", k.Name(), err)
			}
			k.WALSyncs++
		}
	}
	if _, err := k.files[rel].WriteAt(p, off); err != nil {
		return fmt.Errorf("%s: %w", k.Name(), err)
	}
	k.dirty[rel] = true
	return nil
}

func (k *kernelRels) Checkpoint() error {
	for rel := range k.files {
		if !k.dirty[rel] {
			continue
		}
		if err := k.files[rel].Sync(); err != nil {
			return fmt.Errorf("%s: fsync: %w", k.Name(), err)
		}
	}
	clear(k.dirty)
	clear(k.imaged)
	k.walPos = 0
	return nil
}

func (k *kernelRels) Close() error {
	errs := []error{k.Checkpoint()}
	for _, f := range k.files {
		errs = append(errs, f.Close())
	}
	k.files = k.files[:0]
	if k.wal != nil {
		errs = append(errs, k.wal.Close())
		k.wal = nil
	}
	return errors.Join(errs...)
}

package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// config is what the flags set.
type config struct {
	Crashes int     // power cuts per mode
	Pages   int     // pages in the data file
	Seed    uint64  // makes the workload and the crashes repeatable
	Survive float64 // chance each volatile write (or block of one) survives a cut
	Dir     string  // also run on a real file in this directory
}

// result is one row of the table.
type result struct {
	Mode    string
	Crashes int
	Checked int // pages verified over all crashed images
	Torn    int // pages whose checksum failed
	Lost    int // whole pages older than what a finished Sync made durable
	Elapsed time.Duration
}

// fileOptions are the options of every File the demo opens: a 16 KiB page
// needs no more than a 64 KiB untorn unit, which also lets native mode run
// on an XFS that offers 1 MiB untorn writes.
// Size asks a COW container (where the device has no untorn writes) for
// room for the pages.
func fileOptions(pages int) atomicio.Options {
	return atomicio.Options{CacheSize: 16 << 20, MaxAtomic: 64 << 10, FlushInterval: 5 * time.Millisecond,
		Size: int64(pages) * pageSize}
}

// deviceSize is the capacity of the device under the File: the pages plus
// room for a COW container's log and out-of-place writes.
func deviceSize(pages int) int64 { return 2*int64(pages)*pageSize + 4<<20 }

func (c config) validate() error {
	switch {
	case c.Crashes < 1:
		return fmt.Errorf("%w: -crashes %d, want >= 1", errBadConfig, c.Crashes)
	case c.Pages < 2 || c.Pages > 1<<16:
		return fmt.Errorf("%w: -pages %d, want 2..65536", errBadConfig, c.Pages)
	case c.Survive < 0 || c.Survive > 1:
		return fmt.Errorf("%w: -survive %g, want 0..1", errBadConfig, c.Survive)
	}
	return nil
}

// run runs both modes (and the real-file run with Dir) and returns the
// rows. It fails with errGuaranteeBroken when the untorn row is not clean.
func run(c config, prog *progress) ([]result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var rows []result
	for _, untorn := range []bool{false, true} {
		res, err := crashRun(c, untorn, prog)
		if err != nil {
			return rows, err
		}
		rows = append(rows, res)
	}
	if c.Dir != "" {
		res, err := fileRun(c, prog)
		if err != nil {
			return rows, err
		}
		rows = append(rows, res)
	}
	for _, r := range rows[1:] {
		if r.Torn != 0 || r.Lost != 0 {
			return rows, fmt.Errorf("%w: %s: %d torn, %d lost", errGuaranteeBroken, r.Mode, r.Torn, r.Lost)
		}
	}
	return rows, nil
}

// workload is the engine: the pages' versions as written and as synced.
type workload struct {
	f      *atomicio.File
	untorn bool
	rng    *rand.Rand
	buf    []byte
	next   uint64   // the next version to write; versions grow across all pages
	latest []uint64 // the last version written of each page (0: never)
	synced []uint64 // the version of each page when the last good Sync began
}

func newWorkload(f *atomicio.File, pages int, untorn bool, rng *rand.Rand) *workload {
	return &workload{f: f, untorn: untorn, rng: rng, buf: make([]byte, pageSize), next: 1,
		latest: make([]uint64, pages), synced: make([]uint64, pages)}
}

// update writes a new version of a random page.
func (w *workload) update() error {
	n := w.rng.IntN(len(w.latest))
	v := w.next
	w.next++
	encodePage(w.buf, uint64(n), v)
	off := int64(n) * pageSize
	var err error
	if w.untorn {
		_, err = atomicio.WriteAt(w.f, w.buf, off)
	} else {
		_, err = w.f.WriteAt(w.buf, off)
	}
	if err != nil {
		return fmt.Errorf("write page %d: %w", n, err)
	}
	w.latest[n] = v
	return nil
}

// sync runs a Sync; only when it succeeds do the versions it began with
// count as durable.
func (w *workload) sync() error {
	mark := append([]uint64(nil), w.latest...)
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	w.synced = mark
	return nil
}

// verify reopens a crashed image and checks every page against what was
// written and synced. It returns how many pages were torn and lost.
func (w *workload) verify(img *blockdev.Mem, synced []uint64) (torn, lost int, err error) {
	f, err := atomicio.OpenDevice(img, fileOptions(len(w.latest)))
	if err != nil {
		return 0, 0, fmt.Errorf("reopen after the crash: %w", err)
	}
	defer func() { _ = f.Abandon() }() // read only: nothing to write back
	return checkPages(f, w.latest, synced, w.buf)
}

// checkPages reads every page of f. A page is torn if it does not decode,
// lost if it is older than synced (or newer than latest, which no crash can
// explain).
func checkPages(f io.ReaderAt, latest, synced []uint64, buf []byte) (torn, lost int, err error) {
	for n := range latest {
		if _, err := f.ReadAt(buf, int64(n)*pageSize); err != nil {
			return 0, 0, fmt.Errorf("read page %d: %w", n, err)
		}
		state, v := decodePage(buf, uint64(n))
		switch {
		case state == pageTorn:
			torn++
		case v < synced[n] || v > latest[n]:
			lost++
		}
	}
	return torn, lost, nil
}

// crashRun runs the workload over a Mem with one write mode, cutting the
// power c.Crashes times and verifying each image.
func crashRun(c config, untorn bool, prog *progress) (result, error) {
	res := result{Mode: "plain f.WriteAt"}
	if untorn {
		res.Mode = "untorn atomicio.WriteAt"
	}
	start := time.Now()
	mem, err := blockdev.NewMem(deviceSize(c.Pages), blockdev.LimitsXFS)
	if err != nil {
		return res, err
	}
	r, err := newRig(mem, fileOptions(c.Pages))
	if err != nil {
		return res, fmt.Errorf("open: %w", err)
	}
	defer func() { _ = r.f.Abandon() }()
	if r.f.Size() < int64(c.Pages)*pageSize {
		return res, fmt.Errorf("%w: %d bytes for %d pages", errTooSmall, r.f.Size(), c.Pages)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x63726173)) // same workload for both modes
	w := newWorkload(r.f, c.Pages, untorn, rng)
	for i := range c.Crashes {
		img, synced, err := w.runUntilCrash(r, blockdev.CrashConfig{Seed: c.Seed<<20 + uint64(i), Survive: c.Survive})
		if err != nil {
			return res, err
		}
		torn, lost, err := w.verify(img, synced)
		if err != nil {
			return res, err
		}
		res.Crashes++
		res.Checked += c.Pages
		res.Torn += torn
		res.Lost += lost
		prog.step()
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// runUntilCrash updates random pages with a Sync now and then and returns
// the image of a power cut, half the time between two writes, half the
// time in the middle of a Sync, with the versions durable at the cut. The
// live File runs on.
func (w *workload) runUntilCrash(r *rig, cfg blockdev.CrashConfig) (*blockdev.Mem, []uint64, error) {
	pages := len(w.latest)
	updates := 1 + w.rng.IntN(max(1, pages/2))
	syncEvery := max(1, pages/8)
	dirty := 0
	for i := range updates {
		if err := w.update(); err != nil {
			return nil, nil, err
		}
		dirty++
		if i%syncEvery == syncEvery-1 && w.rng.IntN(2) == 0 {
			if err := w.sync(); err != nil {
				return nil, nil, err
			}
			dirty = 0
		}
	}
	if w.rng.IntN(2) == 0 {
		return r.mem.CrashClone(cfg), w.synced, nil
	}
	// Cut before the k-th write or flush of this Sync: some pages written
	// back, none flushed yet (or, past the Sync's last operation, after it).
	r.arm(w.rng.IntN(dirty+1), cfg)
	before := w.synced
	err := w.sync()
	img := r.take()
	switch {
	case err != nil:
		return nil, nil, err
	case img != nil: // the cut came before the Sync returned
		return img, before, nil
	}
	return r.mem.CrashClone(cfg), w.synced, nil
}

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// fileRun runs the untorn workload on a real file in c.Dir (O_DIRECT,
// RWF_ATOMIC where the file system has it), closes the file, reopens it
// and checks that every page reads back exactly as last written. No power
// is cut: that needs the Mem. The file is removed afterwards.
func fileRun(c config, prog *progress) (res result, err error) {
	res = result{Mode: "untorn, real file, no crash"}
	start := time.Now()
	tmp, err := os.CreateTemp(c.Dir, "crashdemo-*.pages")
	if err != nil {
		return res, fmt.Errorf("-dir: %w", err)
	}
	path := tmp.Name()
	defer func() { err = errors.Join(err, os.Remove(path)) }()
	if err := tmp.Close(); err != nil {
		return res, err
	}
	f, err := openFile(path, deviceSize(c.Pages), c.Pages)
	if err != nil {
		return res, err
	}
	if f.Size() < int64(c.Pages)*pageSize {
		_ = f.Abandon()
		return res, fmt.Errorf("%w: %d bytes for %d pages", errTooSmall, f.Size(), c.Pages)
	}
	res.Mode += " (" + f.Mode().String() + ")"
	w := newWorkload(f, c.Pages, true, rand.New(rand.NewPCG(c.Seed, 0x66696c65)))
	for i := range 4 * c.Pages {
		if err := w.update(); err != nil {
			_ = f.Abandon()
			return res, err
		}
		if i%max(1, c.Pages/8) == 0 && w.rng.IntN(2) == 0 {
			if err := w.sync(); err != nil {
				_ = f.Abandon()
				return res, err
			}
		}
	}
	if err := f.Close(); err != nil {
		_ = f.Abandon()
		return res, fmt.Errorf("close %s: %w", path, err)
	}
	if f, err = openFile(path, 0, c.Pages); err != nil {
		return res, err
	}
	torn, lost, err := checkPages(f, w.latest, w.latest, w.buf) // all durable after Close
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", path, cerr)
	}
	res.Crashes, res.Checked, res.Torn, res.Lost = 0, c.Pages, torn, lost
	res.Elapsed = time.Since(start)
	prog.step()
	return res, err
}

// openFile opens path as a Device with O_DIRECT (extending it to size when
// size > 0) and a File over it.
func openFile(path string, size int64, pages int) (*atomicio.File, error) {
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: size})
	if err != nil {
		return nil, fmt.Errorf("-dir: %w", err)
	}
	f, err := atomicio.OpenDevice(dev, fileOptions(pages))
	if err != nil {
		_ = dev.Close() // OpenDevice does not own dev when it fails
		return nil, fmt.Errorf("-dir: %s: %w", path, err)
	}
	return f, nil
}

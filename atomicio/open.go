package atomicio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/blockdev"
)

// Open opens the data file at path, with O_DIRECT underneath.
//
// A missing (or empty) file is created with Options.Size bytes of logical
// capacity. With ModeAuto or ModeCOW it becomes a COW container (a little
// larger on disk than Size; see package blockdev/cow); with ModeNative it
// is a plain file and the file system must offer RWF_ATOMIC.
//
// An existing file is recognised: a COW container (by its superblock) is
// recovered and opened in COW mode; any other file is opened in native
// mode, which needs a file system with RWF_ATOMIC (XFS with reflink on
// Linux 6.13+). On a file system without it Open fails with
// ErrNoUntornWrites rather than silently losing the guarantee.
func Open(path string, opts Options) (*File, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && st.Mode().IsRegular() && st.Size() == 0):
		return create(path, opts)
	case err != nil:
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	if err != nil {
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	target, mode, err := resolveMode(dev, opts, true)
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	f, err := newFile(target, mode, opts)
	if err != nil {
		_ = target.Close()
		return nil, err
	}
	return f, nil
}

// create makes a new data file at path.
func create(path string, opts Options) (*File, error) {
	if opts.Size <= 0 {
		return nil, fmt.Errorf("%w: Options.Size is needed to create %s", ErrInvalid, path)
	}
	mode := opts.Mode
	if mode == ModeAuto {
		mode = ModeCOW
	}
	info, err := blockdev.Stat(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	bs := 4096
	if info.DIOReported && info.DIOOffsetAlign > 0 {
		bs = max(bs, int(info.DIOOffsetAlign))
	}
	size := opts.Size
	if mode == ModeCOW {
		size, err = cowPhysicalSize(bs, opts, ceilTo(opts.Size, int64(bs)))
		if err != nil {
			return nil, err
		}
	}
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: size, Create: true})
	if err != nil {
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	fail := func(err error) (*File, error) {
		_ = dev.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("atomicio: create %s: %w", path, err)
	}
	if opts.Preallocate {
		if err := preallocate(dev); err != nil {
			return fail(err)
		}
	}
	var target blockdev.Device = dev
	if mode == ModeCOW {
		c, err := formatCOW(dev, opts, ceilTo(opts.Size, int64(bs)))
		if err != nil {
			return fail(err)
		}
		target = c
	} else if !dev.Limits().HasAtomic() {
		return fail(fmt.Errorf("%w: native mode needs RWF_ATOMIC: %w", ErrNoUntornWrites, blockdev.ErrAtomicUnsupported))
	}
	f, err := newFile(target, mode, opts)
	if err != nil {
		_ = target.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return f, nil
}

func ceilTo(v, a int64) int64 { return (v + a - 1) / a * a }

// preallocate writes zeros over the whole device and flushes.
func preallocate(dev blockdev.Device) error {
	const chunk = 8 << 20
	buf := blockdev.AlignedBuffer(int(min(chunk, dev.Size())), dev.Limits().MemAlign)
	for off := int64(0); off < dev.Size(); off += int64(len(buf)) {
		n := min(int64(len(buf)), dev.Size()-off)
		if _, err := dev.WriteAt(buf[:n], off, 0); err != nil {
			return fmt.Errorf("preallocate: %w", err)
		}
	}
	if err := dev.Flush(); err != nil {
		return fmt.Errorf("preallocate: %w", err)
	}
	return nil
}

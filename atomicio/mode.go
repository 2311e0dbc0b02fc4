package atomicio

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/pagecache"
)

// headerProbe is how much of a device's start resolveMode reads to decide
// whether it is blank.
const headerProbe = 64 << 10

// resolveMode decides how a File over dev writes untorn data and returns
// the device the engine should write: dev itself (native), a COW container
// over it, or (files only) a journal beside it; either of the last two
// owns dev from then on. path is the file's path for a plain file that
// existed before (Open), "" for a device handed to OpenDevice, which has
// no journal mode. A plain file in ModeAuto is in journal mode, whatever
// its hardware: the journal writes the units the hardware does untorn in
// place (see ModeAuto). A device handed to OpenDevice is native in
// ModeAuto when it holds data and offers untorn writes, or when it is
// blank and its untorn writes reach 2 x MaxAtomic; else a COW container.
func resolveMode(dev blockdev.Device, opts Options, path string) (blockdev.Device, Mode, error) {
	l := dev.Limits()
	if l.BlockSize > pagecache.PageSize {
		return nil, 0, fmt.Errorf("%w: device block size %d is larger than the cache's %d-byte page", ErrInvalid, l.BlockSize, pagecache.PageSize)
	}
	existingFile := path != ""
	nativeOK := !existingFile && l.HasAtomic() && l.AtomicMax >= 2*opts.MaxAtomic
	c, err := openCOW(dev, opts)
	interrupted := errors.Is(err, cow.ErrIncompleteFormat) // a cut Format: nothing was committed there
	switch {
	case err == nil:
		if opts.Mode == ModeNative || opts.Mode == ModeJournal {
			_ = c.Close()
			return nil, 0, fmt.Errorf("%w: the device is a COW container; open it with ModeAuto or ModeCOW (examples/untorn convert turns it into a file in journal mode)", ErrInvalid)
		}
		return c, ModeCOW, nil
	case !errors.Is(err, errNotFormatted):
		return nil, 0, fmt.Errorf("atomicio: open COW container: %w", err)
	}
	blank, err := isBlank(dev)
	if err != nil {
		return nil, 0, err
	}
	blank = blank || interrupted
	mode := opts.Mode
	if mode == ModeAuto {
		switch {
		case existingFile:
			mode = ModeJournal
		case blank && !nativeOK:
			mode = ModeCOW
		case l.HasAtomic():
			mode = ModeNative
		default:
			return nil, 0, fmt.Errorf("%w: device without untorn writes holds data (OpenDeviceWithJournal keeps it in place)", ErrNotContainer)
		}
	}
	switch mode {
	case ModeNative:
		if !l.HasAtomic() {
			return nil, 0, fmt.Errorf("%w: native mode needs RWF_ATOMIC: %w", ErrNoUntornWrites, blockdev.ErrAtomicUnsupported)
		}
		return dev, ModeNative, nil
	case ModeJournal:
		f, ok := dev.(*blockdev.File)
		if !existingFile || !ok {
			return nil, 0, fmt.Errorf("%w: journal mode over a device needs a second device for the journal (OpenDeviceWithJournal)", ErrInvalid)
		}
		if n, ok := blockdev.LengthOf(f); ok && n == 0 && opts.Size > 0 {
			// An empty file kept in place (journalInPlace) starts with
			// Options.Size bytes, as a new one would.
			if err := f.SetLength(opts.Size); err != nil {
				return nil, 0, fmt.Errorf("atomicio: size the empty file: %w", err)
			}
		}
		jd, err := createFileJournal(f, path, opts)
		if err != nil {
			return nil, 0, err
		}
		return jd, ModeJournal, nil
	default: // ModeCOW on a device that is not a container yet
		if !blank {
			return nil, 0, fmt.Errorf("%w: refusing to format a COW container over it", ErrNotContainer)
		}
		c, err := formatCOW(dev, opts, ceilTo(opts.MaxSize, int64(max(l.BlockSize, 4096))))
		if err != nil {
			return nil, 0, fmt.Errorf("atomicio: format COW container: %w", err)
		}
		// A device starts as large as it is (Options.Size, when set, is
		// the initial size instead); Truncate makes it smaller.
		if err := initialSize(c, cmp.Or(opts.Size, c.Size())); err != nil {
			_ = c.Close()
			return nil, 0, err
		}
		return c, ModeCOW, nil
	}
}

// isBlank reports whether the start of dev reads as zeros.
func isBlank(dev blockdev.Device) (bool, error) {
	n := min(int64(headerProbe), dev.Size())
	buf := blockdev.AlignedBuffer(int(n), dev.Limits().MemAlign)
	if _, err := dev.ReadAt(buf, 0); err != nil {
		return false, fmt.Errorf("atomicio: read the device header: %w", err)
	}
	for _, b := range buf {
		if b != 0 {
			return false, nil
		}
	}
	return true, nil
}

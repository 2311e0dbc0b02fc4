package atomicio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/blockdev"
)

// maxOpenRaces bounds how often Open starts over because the file at path
// changed under it (another process created or replaced it meanwhile).
const maxOpenRaces = 8

// Open opens the data file at path, with O_DIRECT underneath.
//
// A missing (or empty) file is created with Options.Size bytes (zeros).
// With ModeAuto or ModeJournal it is a plain file of exactly that size
// with a side journal beside it (JournalPath; under ModeAuto the units
// the drive writes untorn in hardware go home in place); with ModeCOW a COW container (see
// package blockdev/cow); with ModeNative a plain file on a file system
// that must offer RWF_ATOMIC.
//
// Creation is atomic and durable. The new file is built (sized,
// preallocated, formatted, fsynced) under a temporary name in the same
// directory, ".<base>.untorn-tmp-<16 hex digits>", then published at path
// with renameat2(RENAME_NOREPLACE) (link(2) and unlink(2) on a file system
// without it), and the directory is fsynced before Open returns. So after a
// crash or a kill at any point during Open of a new path, path either does
// not exist or is a complete file (for COW, a valid empty container), never
// a partial one; once Open returns, the new file survives a crash. The file
// stays locked (flock, see blockdev.OpenFile) from its creation on, through
// the rename, until Close. If the directory fsync fails after the rename,
// Open returns the error: path is then a complete file that may or may not
// survive a crash.
//
// Two processes creating the same path at once cannot destroy each other's
// file: the rename refuses to replace, so exactly one file is published and
// the other process removes its temporary file and opens the winner's as an
// existing file (ErrLocked while the winner has it open).
//
// An empty regular file at path counts as missing: Open locks it (ErrLocked
// if another Open holds it), builds the new file under a temporary name,
// checks again, under the lock, that path is still that empty file, and
// renames the new file over it (keeping its permission bits). If the empty
// file changed meanwhile (it was written to or replaced), Open starts over
// with what is at path now. A symbolic link to an empty file gets the new
// file at its target; a dangling symbolic link is refused (ErrInvalid).
//
// A process killed while creating leaves its temporary file behind (the
// link(2) fallback can also leave one as a second name of the data file).
// Open never opens one as the data file, and refuses a path whose name has
// that pattern (ErrInvalid). When Open creates a file it removes the
// leftover temporary files of the same base name that no process holds
// locked, that is, that nobody is creating.
//
// An existing file is recognised: a file with a journal beside it is
// opened in journal mode and recovered (the journal replayed into it),
// whatever its size; a COW container (by its superblock) is recovered and
// opened in COW mode; any other file is opened in journal mode, with a
// new journal created atomically beside it. A journal whose file is missing is refused (ErrInvalid): it holds
// the last writes of a deleted file.
func Open(path string, opts Options) (*File, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := tempBase(filepath.Base(path)); ok {
		return nil, fmt.Errorf("%w: %q is named like a temporary file of Open", ErrInvalid, path)
	}
	for range maxOpenRaces {
		f, err := openOnce(path, opts)
		if !errors.Is(err, errRaced) {
			return f, err
		}
	}
	return nil, fmt.Errorf("atomicio: open %s: %w %d times", path, errRaced, maxOpenRaces)
}

// openOnce is one attempt of Open; errRaced means start over.
func openOnce(path string, opts Options) (*File, error) {
	st, err := os.Stat(path)
	withJournal := false
	if err == nil {
		// A file with a journal is in journal mode, whatever its size (an
		// empty file whose data is all in the journal is no new file).
		if withJournal, err = hasJournal(path); err != nil {
			return nil, err
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if j, jerr := hasJournal(path); jerr == nil && j {
			return nil, fmt.Errorf("%w: %s has a journal (%s) but no data file: restore the file, or remove the journal (it holds the last writes to a deleted file)",
				ErrInvalid, path, JournalPath(path))
		}
	}
	switch {
	case withJournal:
	case errors.Is(err, fs.ErrNotExist):
		if lst, lerr := os.Lstat(path); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%w: %s is a dangling symbolic link", ErrInvalid, path)
		}
		return createNew(path, opts)
	case err == nil && st.Mode().IsRegular() && st.Size() == 0 && !journalInPlace(path, opts):
		real, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errRaced
		} else if err != nil {
			return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
		}
		return replaceEmpty(real, opts)
	case err != nil:
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	return openExisting(path, opts, withJournal)
}

// journalInPlace reports whether an existing empty file at path is to be
// kept where it is and given a journal (journal mode needs no format),
// rather than replaced by a new file: other holders of the empty file
// (a stock SQLite connection that created it, say) then see the one file.
func journalInPlace(path string, opts Options) bool {
	switch opts.Mode {
	case ModeJournal:
		return true
	case ModeAuto:
		return true
	}
	return false
}

// openExisting opens the existing file at path: in journal mode when it
// has a journal (recovering from it), else as resolveMode decides.
func openExisting(path string, opts Options, withJournal bool) (*File, error) {
	dev, err := blockdev.OpenFile(path, fileOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	var target blockdev.Device
	mode := ModeJournal
	if withJournal {
		if opts.Mode != ModeAuto && opts.Mode != ModeJournal {
			err = fmt.Errorf("%w: %s has a journal: open it in ModeAuto or ModeJournal", ErrInvalid, path)
		} else {
			target, err = openFileJournal(dev, path, opts)
		}
	} else {
		target, mode, err = resolveMode(dev, opts, path)
	}
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("atomicio: open %s: %w", path, err)
	}
	f, err := newFile(target, mode, opts)
	if err != nil {
		_ = target.Close()
		return nil, err
	}
	if mode == ModeJournal {
		f.journalPath = path
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

// fileOptions are the blockdev.FileOptions every file of a File is opened
// with.
func fileOptions(opts Options) blockdev.FileOptions {
	return blockdev.FileOptions{Portable: opts.Portable}
}

// statDevice is blockdev.Stat of path, less what a portable File does not
// use (direct I/O, untorn writes) when opts asks for one.
func statDevice(path string, opts Options) (blockdev.AtomicInfo, error) {
	info, err := blockdev.Stat(path)
	if err != nil || !opts.Portable {
		return info, err
	}
	return blockdev.AtomicInfo{Mode: info.Mode, Size: info.Size, Rdev: info.Rdev, Blksz: info.Blksz}, nil
}

package atomicio

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/journal"
)

// JournalSuffix names a file's side journal in journal mode: the journal
// of "data.db" is "data.db-untorn", in the same directory.
const JournalSuffix = "-untorn"

// JournalPath returns the path of the side journal of the file at path.
func JournalPath(path string) string { return path + JournalSuffix }

// journalOptions are the journal's options for a File's.
func journalOptions(opts Options, base int64) journal.Options {
	o := journal.Options{
		Capacity:     opts.JournalSize,
		BaseSize:     base,
		LogicalSize:  opts.MaxSize,
		QueueDepth:   opts.QueueDepth,
		NoBackground: opts.FlushInterval < 0,
		Salvage:      opts.Salvage,
		Break:        opts.journalBreak,
		InPlace:      opts.Mode == ModeAuto, // ModeJournal: everything through the journal
	}
	if opts.FlushInterval > 0 {
		o.Idle = opts.FlushInterval
	}
	return o
}

// OpenDeviceWithJournal opens a File in journal mode over two devices: the
// file lives on data in its own layout, and its journal on jdev (tests use
// two blockdev.Mem, whose crash images CrashCloneAll takes at one
// instant). An all-zero jdev gets a new journal, and the file starts as
// data holds it (Options.Size bytes, or as large as data when Size is 0);
// a jdev that holds a journal is recovered: every record in it is
// replayed into data first. Options.Mode must be ModeAuto or ModeJournal.
// The File owns both devices from then on: Close closes them.
func OpenDeviceWithJournal(data, jdev blockdev.Device, opts Options) (*File, error) {
	if data == nil || jdev == nil {
		return nil, fmt.Errorf("%w: nil device", ErrInvalid)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Mode != ModeAuto && opts.Mode != ModeJournal {
		return nil, fmt.Errorf("%w: OpenDeviceWithJournal in mode %v", ErrInvalid, opts.Mode)
	}
	blank, err := isBlank(jdev)
	if err != nil {
		return nil, err
	}
	var jd *journal.Device
	if blank {
		jd, err = journal.Format(data, jdev, journalOptions(opts, cmp.Or(opts.Size, data.Size())))
	} else {
		jd, err = journal.Open(data, jdev, journalOptions(opts, 0))
	}
	if err != nil {
		return nil, fmt.Errorf("atomicio: open the journal: %w", err)
	}
	f, err := newFile(jd, ModeJournal, opts)
	if err != nil {
		_ = jd.Close()
		return nil, err
	}
	return f, nil
}

// hasJournal reports whether the file at path has a side journal.
func hasJournal(path string) (bool, error) {
	_, err := os.Lstat(JournalPath(path))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("atomicio: look for the journal of %s: %w", path, err)
}

// openFileJournal opens the journal of the file open as dev at path and
// recovers: the file is brought up to date from it.
func openFileJournal(dev *blockdev.File, path string, opts Options) (*journal.Device, error) {
	jdev, err := blockdev.OpenFile(JournalPath(path), fileOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("atomicio: open the journal: %w", err)
	}
	jd, err := journal.Open(dev, jdev, journalOptions(opts, 0))
	if err != nil {
		_ = jdev.Close()
		return nil, fmt.Errorf("atomicio: open the journal %s: %w", JournalPath(path), err)
	}
	return jd, nil
}

// createFileJournal gives the existing file open as dev at path a new
// journal: built under a temporary name (written whole, formatted,
// fsynced), published at JournalPath(path) without replacing anything,
// and the directory fsynced. A crash leaves no journal or a complete one.
func createFileJournal(dev *blockdev.File, path string, opts Options) (*journal.Device, error) {
	d, err := blockdev.OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("atomicio: create the journal of %s: %w", path, err)
	}
	defer d.Close()
	jb, jd, err := buildJournal(d, path, dev, opts, noPerm)
	if err != nil {
		return nil, err
	}
	err = step("publish-journal")
	if err == nil {
		err = publishNoReplace(d, jb.tmp, filepath.Base(JournalPath(path)))
	}
	if err != nil {
		_, jdev := jd.Detach() // dev stays the caller's
		_ = d.Remove(jb.tmp)
		_ = jdev.Close()
		_ = jb.osf.Close()
		return nil, fmt.Errorf("atomicio: publish the journal of %s: %w", path, err)
	}
	_ = jb.osf.Close()
	// Published: from here on the journal is the file's, and a failure
	// leaves it in place (complete; the next Open replays it).
	if err := fsync(d.Path(), d); err != nil {
		_, jdev := jd.Detach()
		_ = jdev.Close()
		return nil, fmt.Errorf("atomicio: create the journal of %s: fsync the directory: %w", path, err)
	}
	return jd, nil
}

// buildJournal creates a journal for the data file on dev under a
// temporary name in d and formats it: the temporary file is written
// whole and fsynced. On success the journal device holds dev and the
// temporary file (its Close closes both) and the caller publishes it; on
// failure the temporary file is removed and dev is left open.
func buildJournal(d *blockdev.Dir, path string, dev blockdev.Device, opts Options, perm filePerm) (*built, *journal.Device, error) {
	jpath := JournalPath(path)
	removeStaleTemps(d, filepath.Base(jpath))
	if err := step("create-journal"); err != nil {
		return nil, nil, fmt.Errorf("atomicio: create the journal of %s: %w", path, err)
	}
	jb, err := createTemp(d, jpath, 0, perm, fileOptions(opts))
	if err != nil {
		return nil, nil, fmt.Errorf("atomicio: create the journal of %s: %w", path, err)
	}
	jd, err := journal.Format(dev, jb.dev, journalOptions(opts, 0))
	if err == nil {
		err = step("sync-journal")
		if err == nil {
			err = fsync(jb.osf.Name(), jb.osf)
		}
		if err != nil {
			_, _ = jd.Detach() // jb.fail closes the journal file
		}
	}
	if err != nil {
		_, err = jb.fail(fmt.Errorf("journal: %w", err))
		return nil, nil, err
	}
	jb.dev.SetPath(jpath)
	return jb, jd, nil
}

// removeFileJournal removes the journal of the file at path after a clean
// Close (the data file holds everything) and fsyncs the directory. The
// caller still holds the journal open and locked, so no other opener can
// be using it.
func removeFileJournal(path string) error {
	d, err := blockdev.OpenDir(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("atomicio: remove the journal of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Remove(filepath.Base(JournalPath(path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("atomicio: remove the journal of %s: %w", path, err)
	}
	if err := fsync(d.Path(), d); err != nil {
		return fmt.Errorf("atomicio: remove the journal of %s: fsync the directory: %w", path, err)
	}
	return nil
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// kind is what a PATH holds, as atomicio.Open would take it.
type kind int

const (
	// kindPlain: a plain file without a journal. atomicio.Open opens it
	// in native or journal mode (see nativePick).
	kindPlain kind = iota
	// kindEmpty: an empty file without a journal; atomicio.Open treats it
	// as missing and creates a new file in its place.
	kindEmpty
	// kindJournal: a data file in journal mode: "<PATH>-untorn" exists.
	kindJournal
	// kindCOW: a COW container (blockdev/cow), by its superblock magic.
	kindCOW
)

func (k kind) String() string {
	switch k {
	case kindPlain:
		return "plain file"
	case kindEmpty:
		return "empty file"
	case kindJournal:
		return "journal mode"
	case kindCOW:
		return "COW container"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// cowMagic starts both superblock copies of a COW container (blockdev/cow,
// on-disk format: "u64 magic TORNCOW1" at the start of blocks 0 and 1).
const cowMagic = "TORNCOW1"

// target is a classified PATH.
type target struct {
	path    string
	kind    kind
	st      os.FileInfo // the data file
	journal string      // its journal's path
	jst     os.FileInfo // the journal, nil without one
}

// classify looks at path without opening it for I/O or locking it: a
// missing path (with or without a journal), a directory or other
// non-regular file is an error; a journal beside the file means journal
// mode, whatever the file holds (as atomicio.Open decides); else the
// superblock magic at the start of block 0 or 1 means a COW container;
// else the file is plain (or empty). It follows symbolic links, as
// atomicio.Open does.
func classify(path string) (target, error) {
	t := target{path: path, journal: atomicio.JournalPath(path)}
	jst, jerr := os.Lstat(t.journal)
	switch {
	case jerr == nil:
		t.jst = jst
	case !errors.Is(jerr, fs.ErrNotExist):
		return t, fmt.Errorf("look for the journal %s: %w", t.journal, jerr)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && t.jst != nil:
		return t, fmt.Errorf("%s: %w: %s exists, %s does not (restore the file, or remove the journal: it holds the last writes to a deleted file)",
			path, errOrphanJournal, t.journal, path)
	case err != nil:
		return t, err
	case !st.Mode().IsRegular():
		return t, fmt.Errorf("%s: %w (%s)", path, errNotRegular, st.Mode().Type())
	}
	t.st = st
	switch {
	case t.jst != nil:
		t.kind = kindJournal
	case st.Size() == 0:
		t.kind = kindEmpty
	default:
		cow, err := hasCOWMagic(path)
		if err != nil {
			return t, err
		}
		if cow {
			t.kind = kindCOW
		}
	}
	return t, nil
}

// hasCOWMagic reports whether the file at path starts block 0 or block 1
// (of the container's block size: the file system's direct I/O unit, at
// least 4 KiB) with the container magic.
func hasCOWMagic(path string) (bool, error) {
	bs := int64(4096)
	if info, err := blockdev.Stat(path); err == nil && info.DIOReported {
		bs = max(bs, int64(info.DIOOffsetAlign))
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, len(cowMagic))
	for _, off := range []int64{0, bs} {
		_, err := f.ReadAt(buf, off)
		switch {
		case errors.Is(err, io.EOF):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("read %s: %w", path, err)
		case bytes.Equal(buf, []byte(cowMagic)):
			return true, nil
		}
	}
	return false, nil
}

// nativePick reports whether atomicio.Open (ModeAuto, the default
// MaxAtomic) opens the existing plain file at path in native mode: when
// its file system writes untorn units of at least 2 x MaxAtomic in
// hardware (statx atomic_write_unit_max_opt). Otherwise it opens it in
// journal mode, creating the journal.
func nativePick(path string) bool {
	info, err := blockdev.Stat(path)
	return err == nil && info.AtomicAttr && info.AtomicUnitMax > 0 &&
		int64(info.AtomicUnitMaxOpt) >= 2*atomicio.DefaultMaxAtomic
}

// diskUse returns the bytes fi takes on disk (du: st_blocks x 512).
func diskUse(fi os.FileInfo) int64 { return blockdev.DiskUseOf(fi) }

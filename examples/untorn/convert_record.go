package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/blockdev"
)

// rootsLen is how much of the container's start the stamp checksums: its
// superblock copies (blocks 0 and 1 of at most 32 KiB), which every open
// of the container rewrites (a new epoch).
const rootsLen = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stamp identifies a container in one state: the file (device, inode),
// its length and times as fstat gives them, a checksum of its roots and
// its logical size. Any open of the container through untorn rewrites
// its roots (and so its times), so a container whose stamp is unchanged
// holds what it held when the stamp was taken.
type stamp struct {
	Dev, Ino     uint64
	Length       int64
	Mtime, Ctime int64 // nanoseconds
	Roots        uint32
	FileSize     int64
}

// fileID is a file's device and inode.
type fileID struct{ Dev, Ino uint64 }

// progressRecord is convert's durable progress: the first done bytes of
// the temporary file (the inode temp) hold the container's content, and
// are durable (fsynced before the record was written).
type progressRecord struct {
	Source stamp
	Temp   fileID
	Done   int64
}

const recordMagic = "untorn-convert 1"

// encode writes r as text lines ending with a CRC-32C of the lines
// before it.
func (r progressRecord) encode() []byte {
	var b bytes.Buffer
	s := r.Source
	fmt.Fprintf(&b, "%s\nsource %d %d %d %d %d %08x %d\ntemp %d %d\ndone %d\n",
		recordMagic, s.Dev, s.Ino, s.Length, s.Mtime, s.Ctime, s.Roots, s.FileSize, r.Temp.Dev, r.Temp.Ino, r.Done)
	fmt.Fprintf(&b, "crc32c %08x\n", crc32.Checksum(b.Bytes(), castagnoli))
	return b.Bytes()
}

// decodeRecord parses what encode wrote; anything else (torn, damaged,
// another version) is errProgress.
func decodeRecord(b []byte) (progressRecord, error) {
	var r progressRecord
	i := bytes.LastIndex(b, []byte("crc32c "))
	var sum uint32
	if i < 0 {
		return r, fmt.Errorf("%w: no checksum", errProgress)
	}
	if _, err := fmt.Sscanf(string(b[i:]), "crc32c %08x\n", &sum); err != nil || sum != crc32.Checksum(b[:i], castagnoli) {
		return r, fmt.Errorf("%w: checksum mismatch", errProgress)
	}
	s := &r.Source
	_, err := fmt.Sscanf(string(b[:i]), recordMagic+"\nsource %d %d %d %d %d %08x %d\ntemp %d %d\ndone %d\n",
		&s.Dev, &s.Ino, &s.Length, &s.Mtime, &s.Ctime, &s.Roots, &s.FileSize, &r.Temp.Dev, &r.Temp.Ino, &r.Done)
	if err != nil {
		return r, fmt.Errorf("%w: %w", errProgress, err)
	}
	if !bytes.Equal(r.encode(), b) { // exactly as written, not merely parseable
		return r, fmt.Errorf("%w: not in its canonical form", errProgress)
	}
	return r, nil
}

// readRecord reads the progress record at path; errProgress (wrapping
// fs.ErrNotExist when there is none) when it cannot be used.
func readRecord(path string) (progressRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return progressRecord{}, fmt.Errorf("%w: %w", errProgress, err)
	}
	return decodeRecord(b)
}

// writeRecord replaces the progress record at path atomically and
// durably: written whole to path.tmp, fsynced, renamed over path, and the
// directory (d) synced. A crash leaves the old record or the new one.
func writeRecord(d *blockdev.Dir, path string, r progressRecord) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the progress record: %w", err)
	}
	_, err = f.Write(r.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.Rename(filepath.Base(tmp), filepath.Base(path))
	}
	if err == nil {
		err = d.Sync()
	}
	if err != nil {
		return fmt.Errorf("write the progress record %s: %w", path, err)
	}
	return nil
}

// removeDurably removes the names in d (a missing one is fine) and
// syncs the directory.
func removeDurably(d *blockdev.Dir, names ...string) error {
	for _, name := range names {
		if err := d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync the directory: %w", err)
	}
	return nil
}

// fstatID returns the identity (device and inode) of the open file f.
func fstatID(f *os.File) (fileID, error) {
	st, err := blockdev.StampFile(f)
	if err != nil {
		return fileID{}, err
	}
	return fileID{Dev: st.Dev, Ino: st.Ino}, nil
}

// nameID returns the identity name has in d (not following a symbolic
// link).
func nameID(d *blockdev.Dir, name string) (fileID, error) {
	st, err := d.Stamp(name)
	if err != nil {
		return fileID{}, err
	}
	return fileID{Dev: st.Dev, Ino: st.Ino}, nil
}

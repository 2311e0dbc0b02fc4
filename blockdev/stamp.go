package blockdev

import (
	"io/fs"
	"os"
)

// FileStamp identifies a file and its state, for programs that must tell
// whether a file is still the one they saw (the operators' convert): the
// file's identity (device and inode on Unix; volume serial number and
// file index on Windows), its length, permission bits and times.
type FileStamp struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds since 1970; Ctime is the last write time on Windows
	Perm         fs.FileMode
}

// ID returns the identity part of s: two stamps with the same ID are of
// the same file.
func (s FileStamp) ID() [2]uint64 { return [2]uint64{s.Dev, s.Ino} }

// StampFile returns the stamp of the open file f.
func StampFile(f *os.File) (FileStamp, error) { return stampFile(f) }

// Stamp returns the stamp of the file name in d, not following a symbolic
// link.
func (d *Dir) Stamp(name string) (FileStamp, error) { return d.stamp(name) }

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return isTerminal(f) }

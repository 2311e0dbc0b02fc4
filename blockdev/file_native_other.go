//go:build !linux

package blockdev

import (
	"fmt"
	"io/fs"
	"os"
)

// Outside Linux there is no O_DIRECT + RWF_ATOMIC path: every File is the
// portable one (file_portable.go), so the native methods below are never
// called.
const haveNative = false

func openNative(path string, opts FileOptions) (*File, error) { return openPortable(path, opts) }

func errNoNative() error {
	return fmt.Errorf("%w: no native file on this system", ErrNotSupported)
}

func (f *File) writeNative(p []byte, off int64, flags Flags) (int, error) {
	return 0, &OpError{Op: opName(flags, true), Path: f.path, Off: off, Len: len(p), Err: errNoNative()}
}

func (f *File) writevNative(_ [][]byte, off int64, flags Flags, total int) (int, error) {
	return 0, &OpError{Op: opName(flags, true), Path: f.path, Off: off, Len: total, Err: errNoNative()}
}

func (f *File) discardNative(off, n int64) error { return f.spaceErr("discard", off, n, errNoNative()) }

func (f *File) allocateNative(off, n int64) error {
	return f.spaceErr("allocate", off, n, errNoNative())
}

func (f *File) cloneNative(_ *File, _, dstOff, n int64) error {
	return f.spaceErr("clone", dstOff, n, errNoNative())
}

// Stat tells what the file at path is: its type, size and preferred I/O
// size. No system here but Linux reports direct or untorn I/O, so
// DIOReported and AtomicReported are false.
func Stat(path string) (AtomicInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return AtomicInfo{}, &OpError{Op: "stat", Path: path, Off: -1, Err: osErr(err)}
	}
	info := AtomicInfo{Size: uint64(max(st.Size(), 0)), Blksz: 4096, Mode: uint32(st.Mode().Perm())}
	switch {
	case st.Mode().IsRegular():
		info.Mode |= ModeRegular
	case st.IsDir():
		info.Mode |= ModeDir
	case st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0:
		info.Mode |= ModeBlock
	}
	return info, nil
}

// ProbeAtomicWrite fails with ErrNotSupported: untorn writes are asked of
// the kernel on Linux only (see the Linux version).
func ProbeAtomicWrite(path string, p []byte, off int64) error {
	return &OpError{Op: "atomic write", Path: path, Off: off, Len: len(p), Err: errNoNative()}
}

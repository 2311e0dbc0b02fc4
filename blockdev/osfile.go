package blockdev

import "os"

// Helpers for programs that measure the system against untorn (the
// benchmark's contenders, the operators' command) and keep to this
// package for every system call, as the library does.

// SyncData makes the data written to f durable with the flush a File
// uses: fdatasync on Linux, fcntl(F_FULLFSYNC) on macOS, FlushFileBuffers
// on Windows.
func SyncData(f *os.File) error { return syncFD(int(f.Fd())) }

// DropCache asks the system to drop the cached pages of f
// (posix_fadvise(POSIX_FADV_DONTNEED) on Linux); elsewhere it does
// nothing. Advice: dirty pages stay until written.
func DropCache(f *os.File) error { return dropCache(f) }

// DiskUse is the disk space the file at path occupies (st_blocks * 512 on
// Unix, the file's size on Windows).
func DiskUse(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if n := DiskUseOf(fi); n >= 0 {
		return n, nil
	}
	return fi.Size(), nil
}

// DiskUseOf is the disk space of the file fi describes (st_blocks * 512),
// -1 where the system does not say (Windows).
func DiskUseOf(fi os.FileInfo) int64 { return diskUseOf(fi) }

// FreeBytes is the space an unprivileged user can still use in dir.
func FreeBytes(dir string) (int64, error) { return freeBytes(dir) }

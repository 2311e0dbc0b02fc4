//go:build unix

package blockdev

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

type dirSys struct{ fd int }

// OpenDir opens the directory at path.
func OpenDir(path string) (*Dir, error) {
	fd, err := openatRetry(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{path: path, dirSys: dirSys{fd: fd}}, nil
}

// Close closes the directory.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Sync makes the names changed in d durable.
func (d *Dir) Sync() error { return syncDir(d.fd) }

// Remove removes the file name (an error wrapping fs.ErrNotExist when there
// is none).
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return d.pathErr("remove", name, err)
	}
	return nil
}

// Rename gives the file from the name to, replacing what to names.
func (d *Dir) Rename(from, to string) error {
	if err := unix.Renameat(d.fd, from, d.fd, to); err != nil {
		return d.pathErr("rename", from, err)
	}
	return nil
}

// RenameNoReplace gives the file from the name to, failing with an error
// wrapping fs.ErrExist if to exists (renameat2(RENAME_NOREPLACE) on Linux,
// renameatx_np(RENAME_EXCL) on macOS). A file system without it fails with
// an error wrapping ErrNotSupported: Link, then Remove, do the same in two
// steps.
func (d *Dir) RenameNoReplace(from, to string) error {
	err := renameNoReplace(d.fd, from, to)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return d.pathErr("rename", from, errors.Join(ErrNotSupported, err))
	}
	if err != nil {
		return d.pathErr("rename", from, err)
	}
	return nil
}

// Link gives the file from the second name to, failing with an error
// wrapping fs.ErrExist if to exists.
func (d *Dir) Link(from, to string) error {
	if err := unix.Linkat(d.fd, from, d.fd, to, 0); err != nil {
		return d.pathErr("link", from, err)
	}
	return nil
}

// OpenNoFollow opens the file name for reading without following a
// symbolic link and without waiting (O_NONBLOCK: a FIFO does not block).
func (d *Dir) OpenNoFollow(name string) (*os.File, error) {
	fd, err := openatRetry(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, d.pathErr("open", name, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
}

func (d *Dir) createNew(name string) (*os.File, error) {
	fd, err := openatRetry(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, d.pathErr("create", name, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), nil
}

// SameFile reports whether name in d (not following a symbolic link) is
// the file open as f: the same device and inode.
func (d *Dir) SameFile(name string, f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	a, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	var b unix.Stat_t
	if unix.Fstatat(d.fd, name, &b, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return uint64(a.Dev) == uint64(b.Dev) && uint64(a.Ino) == uint64(b.Ino)
}

func (d *Dir) pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: filepath.Join(d.path, name), Err: err}
}

func openatRetry(dirfd int, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

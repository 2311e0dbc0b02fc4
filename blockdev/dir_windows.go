package blockdev

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

type dirSys struct{}

// OpenDir checks that path is a directory: on Windows a Dir is its path.
func OpenDir(path string) (*Dir, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: windows.ERROR_DIRECTORY}
	}
	return &Dir{path: path}, nil
}

// Close does nothing on Windows.
func (d *Dir) Close() error { return nil }

// Sync does nothing on Windows: there is no directory sync. Renames are
// made durable by MOVEFILE_WRITE_THROUGH; a new or removed name is
// durable once NTFS commits its metadata journal, which a crash soon after
// can precede.
func (d *Dir) Sync() error { return nil }

// Remove removes the file name; a file open elsewhere (with
// FILE_SHARE_DELETE) loses its name when its last handle closes.
func (d *Dir) Remove(name string) error { return os.Remove(d.join(name)) }

// Rename gives the file from the name to, replacing what to names:
// MoveFileEx(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH).
func (d *Dir) Rename(from, to string) error {
	return d.move(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
}

// RenameNoReplace gives the file from the name to, failing with an error
// wrapping fs.ErrExist if to exists: MoveFileEx(MOVEFILE_WRITE_THROUGH).
func (d *Dir) RenameNoReplace(from, to string) error {
	return d.move(from, to, windows.MOVEFILE_WRITE_THROUGH)
}

// Link gives the file from the second name to (CreateHardLink).
func (d *Dir) Link(from, to string) error { return os.Link(d.join(from), d.join(to)) }

// OpenNoFollow opens the file name for reading (with FILE_SHARE_DELETE).
func (d *Dir) OpenNoFollow(name string) (*os.File, error) {
	return openOSFile(d.join(name), true, false)
}

// SameFile reports whether name in d is the file open as f.
func (d *Dir) SameFile(name string, f *os.File) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(d.join(name))
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func (d *Dir) createNew(name string) (*os.File, error) {
	p := d.join(name)
	u, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: p, Err: err}
	}
	h, err := windows.CreateFile(u, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: p, Err: err}
	}
	return os.NewFile(uintptr(h), p), nil
}

func (d *Dir) move(from, to string, flags uint32) error {
	f, err := windows.UTF16PtrFromString(d.join(from))
	if err != nil {
		return &fs.PathError{Op: "rename", Path: d.join(from), Err: err}
	}
	t, err := windows.UTF16PtrFromString(d.join(to))
	if err != nil {
		return &fs.PathError{Op: "rename", Path: d.join(to), Err: err}
	}
	if err := windows.MoveFileEx(f, t, flags); err != nil {
		if errors.Is(err, windows.ERROR_ALREADY_EXISTS) || errors.Is(err, windows.ERROR_FILE_EXISTS) {
			err = fmt.Errorf("%w: %w", fs.ErrExist, err)
		}
		return &fs.PathError{Op: "rename", Path: d.join(from), Err: err}
	}
	return nil
}

func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

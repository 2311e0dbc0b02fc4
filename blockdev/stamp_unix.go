//go:build unix

package blockdev

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func stampFile(f *os.File) (FileStamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return FileStamp{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return stampOf(&st), nil
}

func (d *Dir) stamp(name string) (FileStamp, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return FileStamp{}, d.pathErr("lstat", name, err)
	}
	return stampOf(&st), nil
}

func stampOf(st *unix.Stat_t) FileStamp {
	return FileStamp{
		Dev: uint64(st.Dev), Ino: uint64(st.Ino), Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
		Perm: fs.FileMode(st.Mode & 0o777),
	}
}

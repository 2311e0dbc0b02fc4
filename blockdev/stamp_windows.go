package blockdev

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

func stampFile(f *os.File) (FileStamp, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &info); err != nil {
		return FileStamp{}, &fs.PathError{Op: "GetFileInformationByHandle", Path: f.Name(), Err: err}
	}
	perm := fs.FileMode(0o666)
	if info.FileAttributes&windows.FILE_ATTRIBUTE_READONLY != 0 {
		perm = 0o444
	}
	return FileStamp{
		Dev:   uint64(info.VolumeSerialNumber),
		Ino:   uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow),
		Size:  int64(info.FileSizeHigh)<<32 | int64(info.FileSizeLow),
		Mtime: info.LastWriteTime.Nanoseconds(),
		Ctime: info.LastWriteTime.Nanoseconds(),
		Perm:  perm,
	}, nil
}

func (d *Dir) stamp(name string) (FileStamp, error) {
	f, err := d.OpenNoFollow(name)
	if err != nil {
		return FileStamp{}, err
	}
	defer f.Close()
	return stampFile(f)
}

func isTerminal(f *os.File) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(f.Fd()), &mode) == nil
}

package blockdev

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

func diskUseOf(os.FileInfo) int64 { return -1 }

func freeBytes(dir string) (int64, error) {
	d, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(d, &avail, &total, &free); err != nil {
		return 0, fmt.Errorf("GetDiskFreeSpaceEx %s: %w", dir, err)
	}
	return int64(avail), nil
}

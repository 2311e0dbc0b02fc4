package blockdev

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// FileSystem names the file system holding dir (GetVolumeInformation:
// "NTFS", "ReFS", ...), "unknown" when the system does not say.
func FileSystem(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "unknown"
	}
	root, err := windows.UTF16PtrFromString(filepath.VolumeName(abs) + `\`)
	if err != nil {
		return "unknown"
	}
	var name [windows.MAX_PATH + 1]uint16
	if err := windows.GetVolumeInformation(root, nil, 0, nil, nil, nil, &name[0], uint32(len(name))); err != nil {
		return "unknown"
	}
	return windows.UTF16ToString(name[:])
}

package blockdev

import "golang.org/x/sys/unix"

// FileSystem names the file system holding dir (statfs f_fstypename:
// "apfs", "hfs", ...), "unknown" when the system does not say.
func FileSystem(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	name := unix.ByteSliceToString(st.Fstypename[:])
	if name == "" {
		return "unknown"
	}
	return name
}

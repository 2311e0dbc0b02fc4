//go:build unix

package benchstat

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessTimes returns the user and system CPU time the process has used
// so far, zeros if the system does not say.
func ProcessTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// Kernel names the operating system and its version (uname).
func Kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) +
		" " + unix.ByteSliceToString(u.Version[:])
}

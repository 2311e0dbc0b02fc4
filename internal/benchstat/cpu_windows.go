package benchstat

import (
	"fmt"
	"time"

	"golang.org/x/sys/windows"
)

// ProcessTimes returns the user and kernel CPU time the process has used
// so far (GetProcessTimes), zeros if the system does not say.
func ProcessTimes() (user, sys time.Duration) {
	var creation, exit, kernel, usr windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &usr); err != nil {
		return 0, 0
	}
	// Filetime counts 100 ns intervals.
	ticks := func(t windows.Filetime) time.Duration {
		return time.Duration(int64(t.HighDateTime)<<32|int64(t.LowDateTime)) * 100
	}
	return ticks(usr), ticks(kernel)
}

// Kernel names the operating system and its version (RtlGetVersion).
func Kernel() string {
	v := windows.RtlGetVersion()
	return fmt.Sprintf("Windows %d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber)
}

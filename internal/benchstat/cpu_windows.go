package benchstat

import (
	"time"

	"golang.org/x/sys/windows"
)

// ProcessCPU returns the CPU time (user and kernel) the process has used
// so far (GetProcessTimes), or 0 if the system does not say.
func ProcessCPU() time.Duration {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	// Filetime counts 100 ns intervals.
	ticks := func(t windows.Filetime) int64 { return int64(t.HighDateTime)<<32 | int64(t.LowDateTime) }
	return time.Duration((ticks(kernel) + ticks(user)) * 100)
}

package benchstat

import "time"

// ProcessCPU returns the CPU time (user and system) the process has used
// so far, or 0 if the system does not say. On a shared machine it measures
// the work of a run better than the wall clock.
func ProcessCPU() time.Duration {
	user, sys := ProcessTimes()
	return user + sys
}

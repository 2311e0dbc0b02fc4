//go:build race

package atomicio

// raceEnabled: the race detector shadows the memory a program touches, so
// a test that measures the process's RSS cannot run under it.
const raceEnabled = true

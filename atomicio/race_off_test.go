//go:build !race

package atomicio

// raceEnabled: see race_on_test.go.
const raceEnabled = false

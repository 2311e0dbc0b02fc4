//go:build race

package cow

// raceEnabled: the race detector makes memory-heavy tests ~10x slower, so
// the exhaustive tests check fewer images per crash point under it.
const raceEnabled = true

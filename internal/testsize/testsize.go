package testsize

import "os"

// EnvLong is the environment variable that turns the long campaigns on.
const EnvLong = "UNTORN_LONG"

// Long reports whether the long campaigns run (UNTORN_LONG=1).
func Long() bool { return os.Getenv(EnvLong) == "1" }

// Pick returns short in the default (contributor) run and long with
// UNTORN_LONG=1.
func Pick[T any](short, long T) T {
	if Long() {
		return long
	}
	return short
}

// Package testsize sizes the project's test campaigns.
//
// The README's test command (go test -race ./... ./examples/sqlite/...) is
// what a contributor runs before every change, so every test sizes its
// crash campaigns, rapid check counts, torture seeds and real-file-system
// workloads for that: the same properties checked, fewer cases. The
// environment variable UNTORN_LONG=1 (which .ci/run sets for its second
// part) brings back the long campaigns. An environment variable rather
// than a flag: a custom flag breaks go test ./... in packages that do not
// define it.
//
// Pick chooses a size; rapidflag.Sized sets a test binary's default rapid
// checks with it. -short runs the default sizes (rapid itself divides its
// checks by 5 then), and the tests that write more than 100 MiB to disk
// skip under it.
package testsize

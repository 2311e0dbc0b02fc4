// Command crashdemo shows what untorn writes buy a storage engine. It plays
// a small engine that updates random 16 KiB pages (each carrying its page
// number, a version and a CRC-32C) and syncs now and then, cuts the power
// at many random moments (between writes and in the middle of a Sync), and
// checks every page of every crashed image: a page whose checksum fails
// was torn (half old, half new), a page older than the version a finished
// Sync made durable was lost.
//
// It runs the workload twice, with plain buffered writes (File.WriteAt,
// which can tear like pwrite) and with untorn ones (atomicio.WriteAt),
// and prints one table row for each:
//
//	go run ./examples/crashdemo
//	go run ./examples/crashdemo -crashes 200 -pages 1024 -seed 7
//	go run ./examples/crashdemo -dir /mnt/xfs
//
// The power cuts are simulated on a blockdev.Mem (a memory device with an
// explicit crash model, XFS-like untorn write limits): a real file cannot
// be power-cut from a test. With -dir the crash runs stay on the Mem, and
// the program also runs the untorn workload once on a real file in that
// directory, closes it, reopens it and checks that every page reads back
// as last written (no crash there). The file is removed afterwards.
//
// The exit status is 1 when the untorn run shows a torn or lost page (or
// anything fails), 2 for bad flags, 0 otherwise.
//
// Concurrency: the program is sequential; only the library's background
// writeback runs beside it.
package main

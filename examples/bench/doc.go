// Command bench runs the same random-page workloads against untorn and the
// ways a storage engine gets (or skips) torn-page protection without it, and
// prints the medians side by side.
//
//	go run ./examples/bench [-dir DIR] [-size 256MiB] [-cache 64MiB] [-reps 3] [-workload all] [-json]
//
// Workloads (-workload): write-16k and write-4k (uniformly random page
// overwrites), mixed-fit and mixed-4x (90% reads over a working set that
// fits the cache or is 4x it), zipf-16k (16 KiB overwrites whose pages
// follow a Zipf distribution, s = 1.1, with the hot pages scattered over
// the file by a fixed permutation) and ycsb-a (YCSB-A-like: 50% reads, 50%
// updates, the same Zipf keys, the hottest pages read untimed first).
//
// Contenders (each in its own file in DIR, created and filled once, then
// reopened for every run so that no run measures allocation):
//
//   - untorn-auto, untorn-native, untorn-cow: atomicio.Open in each mode
//     with otherwise default Options (no Preallocate, no MaxSize),
//     atomicio.WriteAt per page, File.Sync every -sync-every pages.
//   - buffered: pwrite into the kernel page cache plus fdatasync. NOT
//     torn-safe: the speed reference.
//   - dio-atomic: O_DIRECT pwritev2(RWF_ATOMIC) per page from 16 writers,
//     then fdatasync (where the file system has RWF_ATOMIC).
//   - doublewrite: InnoDB's doublewrite buffer: the pages of a Sync
//     interval in one sequential O_DIRECT write to a doublewrite file,
//     fdatasync, then in place from 16 writers, fdatasync.
//   - seq-append: the bound: the written pages appended sequentially in
//     1 MiB O_DIRECT writes plus fdatasync (a rewrite of a page still in
//     the buffer replaces it, as a cache merges rewrites). It cannot read:
//     in workloads with reads its reads are free (counted, not executed).
//
// A new untorn COW container is aged once before its first run (-age,
// default 1.5: random pages 1.5 times its size), so that every run finds
// a full container whose cleaner must make room, as a long-lived file
// does; -age 0 measures a new container living off its free space.
//
// Besides the table, each workload prints where untorn's time per page
// went (the COW container's record writes, flushes, cleaning and
// checkpoints, from cow.Stats, and the rest), and the ceilings the bound
// sets: every torn-safe contender writes each page at least once, so none
// can beat seq-append, and no speedup over a contender can exceed that
// contender's time over the bound's. The disk/live column is untorn's data
// file's disk use (st_blocks) over its live data after the last Sync. The
// process's CPU use over the run shows how much of it is waiting for the
// device; -cpuprofile writes a pprof CPU profile.
//
// Runs alternate the contenders (round robin within each repetition, the
// start rotated by repetition) over the same operation list per repetition,
// and the report gives the median over repetitions of each figure.
//
// Caveats: the kernel contenders' reads use the kernel page cache, which the
// -cache budget does not bound (they start each run with the file's cached
// pages dropped); max RSS counts the whole process, Go runtime included, and
// not the kernel page cache. Device bytes written are counted by each
// contender (for untorn: Stats().Writeback.BytesWritten, i.e. above the COW
// container) and, independently, by the kernel's per-process write_bytes
// (/proc/self/io), which sees what the COW container adds.
//
// Concurrency: the runner drives one contender at a time from one
// goroutine; contenders may use goroutines inside Sync.
package main

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
// With -sim PROFILE (nvme16k, nvme64k, none: sim.go) the workloads run on
// simulated devices instead (two blockdev.Mem with that drive's limits,
// about 2 x -size of memory), untorn's hybrid (ModeAuto: units the drive
// writes untorn in hardware go home in place) against journal mode alone,
// and the report is bytes written to the devices per byte of user data,
// from Open to Close.
//
// Two more workloads run when named (-workload committers,pg-checkpoint;
// "all" means the page workloads above), each with contenders of its own
// (committers.go, pg_contenders.go; the untorn modes they compare are one
// table, untornModes in modes.go):
//
//   - committers: G = 1, 2, 8, 32, 128 goroutines (-committers) each write
//     a 4 KiB page of their own and Sync, over and over, for -commit-time
//     per point: commits/s and Sync p50/p99, untorn (default Options, and
//     each mode) against buffered pwrite + fdatasync on one file, the
//     commits each device flush carried, and the device's own time for one
//     commit (an O_DIRECT write of a one-page record and its header block
//     plus fdatasync) and for one group commit at G = 32. It prints issue
//     #21's targets.
//   - pg-checkpoint: -pg-files relation files of -pg-max/16 to -pg-max
//     (64 of 16-256 MiB), 8 KiB pages written by Zipf relation and page,
//     half the writes runs of 2-16 pages (up to 128 KiB, PostgreSQL's
//     io_combine_limit), a checkpoint every -pg-checkpoint bytes of
//     -pg-writes per run: untorn on one shared atomicio.Cache of -cache
//     (each write untorn, a checkpoint is Cache.Sync; new files, not
//     filled) against PostgreSQL's path on this file system: buffered
//     pwrite, fsync of each file written at a checkpoint, and full-page
//     images (buffered-fpi: the first write of each page after a
//     checkpoint also appended to a WAL file, fdatasynced before the page
//     is written), and the same without them (buffered, not torn-safe);
//     the kernel's relation files are prefilled. It prints the target (the
//     best untorn mode 1.2x faster than buffered-fpi) and untorn's peak RSS
//     growth against the Cache's size + 10%.
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

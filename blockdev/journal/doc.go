// Package journal is untorn's side journal: a blockdev.SizedDevice over
// two devices, the data device, which holds the caller's file in its own
// layout at its own offsets (an ordinary file any program reads), and the
// journal device, a circular log beside it (the file "<path>-untorn"). It
// makes every transaction untorn and durable with one sequential write and
// one flush, and writes the data home later, in the background, the way
// SQLite's WAL, InnoDB's doublewrite files and ext4's jbd2 do.
//
// # How it works
//
// A transaction (CommitSized: a cut, pieces of data, a file size) is one
// record appended at the head of the log: a header with a CRC-32C per
// data block, the data, the file size it leaves; one write (two when it
// wraps at the end of the ring). Flush flushes the journal device once:
// the records written before are then durable, whatever happens to the
// data device. Reads take a block from the journal while a record there
// holds its newest image, else from the data device.
//
// A checkpoint (in the background when the log is fuller than
// CheckpointAt or the device idle, when a commit finds the log full, on
// Checkpoint and on Close) takes the durable records at the start of the
// log, applies their cuts and size to the data device, writes the newest
// image of each block they hold home in block order (merged into runs,
// QueueDepth writes in flight; a block that a later durable record
// rewrites is skipped, so a page rewritten across many commits goes home
// once), flushes the data device, and only then writes a header naming
// the record after them as the start of the log and flushes the journal:
// their space is reused only after that. Commits go on meanwhile in the
// rest of the ring; a commit waits only when the ring is full.
//
// With Options.Clone, where the two devices can share blocks
// (blockdev.Cloner: two files on XFS with reflink), a checkpoint clones
// each run of images home (FICLONERANGE) instead of reading it back and
// writing it: measured on XFS over a loop device, 35-39 us per 16 KiB
// page against 134-158 us for the copy (BenchmarkCheckpointXFS, 1024
// random pages per checkpoint), and the journal's next lap over the shared
// blocks, which the file system then copies on write, cost no more. It is
// off by default all the same: after a clone the journal's blocks are
// shared, so its next writes to them need new blocks, which breaks the
// rule that a journal written whole at Format never allocates: on a full
// file system a Sync's record write failed with ENOSPC
// (TestRealJournalDataFileSystemFull in atomicio found it).
//
// Open replays every record from the start into the data device, flushes
// it, and only then resets the journal to a new generation (the header
// durable before any record of it). A power cut at any point, also during
// that recovery, leaves the header naming records that are all still there,
// and the next Open replays again: replay from the start is idempotent.
//
// # Rules, and where they come from
//
//   - Order: a record is durable before any home write of its blocks (a
//     checkpoint takes only flushed records); home writes are durable
//     before the journal space holding them is reused (SQLite walCheckpoint,
//     InnoDB, jbd2_cleanup_journal_tail). An I/O error anywhere leaves the
//     journal authoritative.
//   - Generations: a reset journal gets a new generation, durable in its
//     header before any record (SQLite walRestartHdr); records carry it,
//     and each record also carries the header checksum of the one before
//     it (Prev), so that a record left behind by a failed write, or by an
//     older lap of the ring, never passes as the successor of a newer one.
//   - Roots: the header is kept in two copies; write n goes to copy n%2
//     (bbolt's meta pages), so a cut header write leaves the other intact.
//   - Torn tail versus damage: recovery stops at the first record that is
//     missing, torn or not current. One flipped bit (which a torn write
//     never produces) is corrected. If a later record of the generation,
//     written after the bad one had been flushed (its durable watermark
//     says so), is intact, the bad one was durable: Open fails with
//     ErrCorrupt naming it, and writes nothing (jbd2 does the same).
//   - No stale image over newer data: everything goes through the journal
//     but the units CommitUnits writes in place (Options.InPlace), and a
//     unit goes in place only while no record holds an image of its
//     blocks, no cut in the log reaches it and it lies within the durable
//     size (the journal stays the only writer of a block until its last
//     image is home); a checkpoint writes the newest image of each block
//     as of its window; replay applies records in order.
//   - Hardware first (Options.InPlace, see inplace.go): a unit the data
//     device writes untorn in hardware (Limits.AtomicHardwareMax, naturally
//     aligned) goes home at once with blockdev.Atomic, written once; Flush
//     then flushes the data device too.
//   - Sizes: a record carries the cut and the size it leaves; a checkpoint
//     applies the lowest cut of its window (truncating a regular file, or
//     discarding) and extends the file before it copies pages; the header
//     holds the size the data device has as of the start.
//   - Space: the journal is written whole (zeros) at Format, so its writes
//     carry no file-system metadata and cannot fail with ENOSPC. It grows
//     (when its device can) only for a transaction larger than all of it.
//
// # Failure classes
//
// A failed record write leaves the head where it was: the next record is
// written over whatever of it landed. A failed journal flush makes the
// records since the last good one suspect (the device may have lost
// them): the next commit rewinds the head to the durable end of the log
// and the writer, whose Sync failed, writes that data again. A failed
// checkpoint (ENOSPC on the data device, EIO) changes nothing durable: the
// journal stays authoritative, commits go on while the ring has room, and
// the error is in Stats and returned by the commit that needed the room,
// by Checkpoint and by Close.
//
// # On-disk format (version 1)
//
// All integers little-endian; B is the block size (4096, or the larger of
// the two devices' block sizes). Blocks 0 and 1 of the journal device are
// the header copies; the record area (A blocks) follows. Log position p
// (a block count that grows through a generation) lies at block 2+p%A.
//
//	header (first 128 bytes of its block):
//	0   u64 magic "UNTJRNL1"    8   u32 version (1)     12  u32 block size B
//	16  u64 journal id (random at Format; records carry it)
//	24  u64 generation          32  u64 write number n (copy n%2)
//	40  u64 A area blocks       48  u64 start: log position of the first record
//	56  u64 its sequence number 64  u32 its Prev   68  u32 zero
//	72  u64 file size the data device holds as of the start
//	80  u64 capacity (largest file size)            124 u32 CRC of [0, 124)
//
// Records are logrec's (package blockdev/internal/logrec), with epoch the
// generation and next the log position of the next record; a record never
// takes more than the area.
//
// # Concurrency
//
// A Device is safe for concurrent use; see the lock order on Device.
//
// # Caveats
//
// Until the data device has been brought up to date (a checkpoint, Close,
// or the recovery of the next Open), the data file alone may show
// anything the journal's records overwrite, including torn pages after a
// crash: open it through this package once after a crash. The data
// device's own damage (a flipped bit in a block already home) is not
// detected: it is a plain file. The journal's records since the last
// flush before a crash can lose a flipped bit silently, as a torn write
// would, when no later record proves them durable.
package journal

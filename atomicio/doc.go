// Package atomicio gives Go storage engines buffered, untorn writes: a
// write goes into a userspace page cache and returns at memory speed, and
// when it reaches stable storage it arrives whole or not at all, even across
// a power cut.
//
//	f, err := atomicio.Open("data.db", atomicio.Options{}) // a file that grows
//	...
//	atomicio.WriteAt(f, page, off) // untorn; past the end it extends the file
//	f.ReadAt(buf, off)             // sees the cache
//	b := f.NewBatch()              // several ranges (and Truncate) that land together
//	b.WriteAt(header, 0)
//	b.WriteAt(page, off)
//	b.Commit()
//	f.Sync()                       // durable
//
// # What a caller is promised
//
//  1. Untorn. For every WriteAt(f, p, off): after any crash the range
//     [off, off+len(p)) reads either entirely as before the write or
//     entirely as the write (or later writes) left it, never a mix. No
//     alignment is required; the largest write accepted is
//     Options.MaxAtomic (ErrTooLarge beyond).
//  2. Durable after Sync. Every write that returned before a successful
//     Sync began is on stable storage when that Sync returns.
//  3. Read-your-writes. ReadAt returns the latest data written, from the
//     cache or the device.
//  4. All or nothing in memory too. WriteAt never copies half a buffer:
//     the cache memory for the whole range is reserved before the copy.
//     Under memory pressure it waits for writeback, and fails cleanly
//     (nothing written, ErrNoMemory) after Options.WriteTimeout.
//  5. Errors stick. A writeback error is returned by the next Sync and
//     every later one until the data is written; dirty data is never
//     dropped because a write failed (Close refuses too; Abandon gives up).
//  6. Batches are untorn as a whole (journal and COW mode). After any crash either
//     every range of a committed Batch, and the size it leaves, is there
//     or none of it, up to 1 GiB (larger than half the cache, it is
//     written through at Commit). Batches and untorn writes that overlap behave as if
//     applied in commit order. Native mode can only write one naturally
//     aligned unit untorn, and refuses larger batches (see Batch).
//  7. Files behave like files. Size is the file size; a write past it
//     extends it (the gap reads as zeros); Truncate shrinks or extends
//     it. After a crash the size is one the writes and Truncates that
//     landed leave, consistent with the data: a range cut off and then
//     synced never reappears, and in journal and COW mode a size change
//     lands with the transaction that made it.
//
// # When things fail
//
// Three classes of failure, each with its own answer:
//
//   - Transient: the device reports ENOSPC, or an EIO that goes away. Sync
//     returns the error (errors.Is(err, syscall.ENOSPC) holds), the dirty
//     data stays in the cache, and the first Sync after the device works
//     again succeeds: nothing is lost and nothing needs reopening. In COW
//     mode the container re-reads its own state from the device before it
//     writes again (a record or root may have been half written), exactly
//     as a reopen would, underneath the cache. In journal mode a failed
//     journal write or flush makes the records since the last good flush
//     suspect: they are written again; a failed checkpoint (the data file's
//     file system full, say) leaves the journal authoritative, Syncs go on
//     while it has room (Stats().Journal.CheckpointErr reports it), and a
//     Sync that needs the room reports the error.
//   - State unknown beyond repair: the container's recovery finds damage
//     (below). The File keeps its data in the cache, refuses to write
//     (Sync fails), and a reopen reports the damage.
//   - Corruption: a flipped bit in the container's roots, in the middle of
//     its log, or in a data block. Open fails with ErrCorrupt naming where,
//     and writes nothing, so nothing is made permanent; ReadAt of a damaged
//     block fails with ErrCorrupt rather than returning wrong data. A
//     damaged record can be told from the torn tail of a crash only while a
//     later record proves it had been durable: damage to the records of
//     the last Sync before a crash can pass for a torn write (that Sync's
//     data is lost, as if the crash had come first). A clean Close leaves
//     no such records. The journal checksums its records the same way (a
//     single flipped bit in one is corrected). In native and journal mode
//     the file is a plain file: damage to the data once it is home is not
//     detected.
//
// Creating a file is atomic and durable: a crash during Open of a new path
// leaves either no file or a complete one (in journal mode the file first,
// then its journal: a file without a journal gets a new one at Open),
// never a partial one.
//
// Plain writes ((*File).WriteAt, io.WriterAt) are buffered the same way
// but may tear at a crash, like pwrite. A plain write inside a dirty untorn
// range becomes part of it. Two untorn writes that overlap while both are
// dirty become one unit. No ordering between ranges is promised without
// Sync.
//
// # Journal, native and COW
//
// Untorn writes reach the device one of three ways (see Mode):
//
//   - Journal (the default): the file stays the caller's file, in its own
//     layout at its own offsets, readable by any program. A Sync appends
//     one record to a side journal, "<path>-untorn" (package
//     blockdev/journal): every page it writes, with a CRC-32C each, the
//     size it leaves; one sequential write and one flush. A checkpoint in
//     the background writes the newest image of each page home, flushes
//     the file and only then frees the journal's space. Any file system,
//     any alignment, batches and sizes. After a clean Close the journal is
//     empty and removed, and the file is an ordinary file of exactly its
//     size. Under ModeAuto (the default) the hardware comes first: a
//     unit the drive writes untorn in hardware (statx
//     atomic_write_unit_max_opt, a naturally aligned power of two) goes
//     home in place with RWF_ATOMIC, written once, unless its pages still
//     have an image in the journal; the other units, batches and size
//     changes go through the journal.
//   - Native: in place with pwritev2(RWF_ATOMIC) on O_DIRECT, as the
//     smallest naturally aligned power-of-two unit covering each write. The
//     file stays an ordinary file. It needs a file system with untorn
//     writes (XFS with reflink on Linux 6.13+; 4 KiB to 1-2 MiB), and a
//     write whose unit exceeds its maximum fails with ErrTooLarge. Asked
//     for by name (ModeAuto keeps a file in journal mode, whose in-place
//     path uses the hardware's untorn writes).
//   - COW: the file is a container (package blockdev/cow) that writes new
//     data out of place and commits many ranges at once: random page
//     writes become one sequential write and one flush. Any file system,
//     any alignment. A private format, read through this package only, of
//     about twice the live data; chosen with Options.Mode, and existing
//     containers open as COW (examples/untorn convert turns one into a file
//     in journal mode).
//
// # Caveats
//
// After a crash, a file in journal mode may hold torn pages (the journal
// holds their good images) until this package opens it once, which
// replays the journal (or examples/untorn recover runs): do not read it
// with another program before. Stop using untorn by closing the File
// cleanly: the file is then an ordinary file and no journal is left.
//
// A COW file grows up to Options.MaxSize (1 TiB by default), set when it
// is created; a native file's size moves in whole 4 KiB blocks. Data is
// durable only after Sync (or with Options.WriteThrough). The cache budget
// bounds folio memory, not the Go heap. A COW container is read through
// this package only. Another File (in this process or another) opening a
// file that is open is refused with ErrLocked (flock on the file and on
// its journal; LockFileEx on Windows).
//
// # Platforms
//
// Native mode is Linux only. On macOS and Windows (and on Linux with
// Options.Portable) files are opened through blockdev's portable File,
// which has no untorn writes: journal mode (the default) or COW makes
// every write untorn, flushed with F_FULLFSYNC on macOS and
// FlushFileBuffers on Windows. Windows has no directory sync: a newly
// created file's name is durable once NTFS commits its metadata (the
// file is complete before its name appears). See the README's Platforms
// section.
//
// # Many committers, many files
//
// Concurrent Syncs of a File share its writeback passes (group commit): a
// Sync whose writes the pass under way already holds waits for that pass,
// any other waits for the next one, which one of them leads for all; each
// pass is one record and one device flush in COW mode. Every Sync returns
// after the flush of a pass that held its writes, with that pass's error if
// it failed.
//
// Files can share one memory budget: NewCache, and Options.Cache to open a
// File on it (see Cache). Cache.Sync makes every File on it durable, their
// flushes in parallel.
//
// # Concurrency
//
// A File is safe for concurrent use by many goroutines; concurrent
// overlapping writes land in some order, each untorn one whole. A Cache and
// the Files on it may be used by any number of goroutines at once.
package atomicio

// Package blockdev is the only package of untorn that touches the operating
// system's I/O: it defines the Device contract the rest of the library
// writes through, and its implementations.
//
// # The contract
//
// A Device has a capacity (fixed unless it is a Resizer), addresses it in
// BlockSize units, wants MemAlign-aligned buffers (O_DIRECT) and may offer
// untorn ("atomic") writes between AtomicMin and AtomicMax bytes, of which
// those up to AtomicHardwareMax the drive does itself, at full speed
// (statx atomic_write_unit_max_opt; 0 for XFS's software atomic writes);
// see Device and Limits.
// CheckAtomic states the RWF_ATOMIC rules every implementation applies: a
// power-of-two length within the limits at an offset that is a multiple of
// the length. A write that breaks a rule fails with an error wrapping
// ErrAtomicInvalid (or ErrAtomicUnsupported) and writes nothing.
//
// The crash model: a write is volatile until a later Flush returns, unless
// it had FUA. After a power cut any subset of the volatile writes has
// survived, applied in issue order; a plain write survives block by block
// (it can tear at BlockSize), an Atomic write whole or not at all.
//
// # Space
//
// Two optional interfaces (space.go) serve growable containers: a
// Discarder gives a range back (it then reads as zeros; crash model of a
// plain write of zeros), a Resizer changes the capacity and reserves disk
// space. File is both (Resize only on a regular file), Mem is a Discarder
// (and a Resizer when made by NewMemFile: a file in memory whose size is
// in the crash model), FaultDevice passes both through. AllocatedBytes tells what a File
// occupies on disk.
//
// # Vectored writes
//
// A VectorWriter (vector.go) writes several buffers back to back as one
// write, exactly as WriteAt writes their concatenation (pwritev on a
// File), so that a caller can send data from where it lies: the COW
// container writes a record's header and the cache's folios in one call
// instead of copying them into one buffer. File, Mem and FaultDevice
// (which numbers the whole write as one operation) implement it.
//
// # Implementations
//
//   - File (OpenFile): on Linux a regular file or block device with
//     O_DIRECT. Atomic is pwritev2(RWF_ATOMIC), FUA is RWF_DSYNC, Flush is
//     fdatasync. Limits come from statx(STATX_WRITE_ATOMIC|STATX_DIOALIGN)
//     and sysfs. On Linux 6.18, XFS with reflink offers untorn writes of
//     4 KiB to 2 MiB (software CoW); ext4 on a plain disk offers none.
//     On macOS and Windows, and on Linux with FileOptions.Portable, it is
//     the portable File (file_portable.go): a regular file through the
//     system's cache, positioned reads and writes, no untorn writes
//     (LimitsPortable), Flush with fdatasync, fcntl(F_FULLFSYNC) or
//     FlushFileBuffers, locked with flock or LockFileEx. One
//     implementation, a few calls per system (file_linux.go,
//     file_darwin.go, file_windows.go).
//   - Mem (NewMem): memory-backed, for crash and fault tests. CrashClone
//     builds an independent device as it would be found after a power cut
//     while the original runs on, deterministically from a seed. NewMemFile
//     makes one that grows and shrinks like a regular file, the size
//     included in the crash model.
//   - FaultDevice (WithFaults): wraps any Device and fails chosen operations
//     with errors wrapping syscall.EIO or syscall.ENOSPC (see Injector).
//
// # The operating system
//
// No other package of untorn calls the operating system for files or
// memory: they go through this one. Dir creates, renames (without
// replacing, or replacing), links and removes names in a directory and
// makes the changes durable (fsync of the directory; F_FULLFSYNC on
// macOS; on Windows MoveFileEx with MOVEFILE_WRITE_THROUGH, and no
// directory sync exists). MapMemory and its companions give the page
// cache its arenas (mmap on Unix, the Go heap on Windows). LockFile,
// LockFD and LockRange lock files; SyncData, DiskUse, FreeBytes,
// StampFile, FileSystem and IsTerminal serve the example programs.
//
// # Errors
//
// Errors are *OpError values naming the operation, path and offset; they
// unwrap to the errno and to this package's sentinels (errors.go), so match
// them with errors.Is.
//
// # Concurrency
//
// Every Device here is safe for concurrent use by many goroutines; writes to
// overlapping ranges that race have no defined order.
//
// # Caveats
//
// A File's Limits are read once at open. The portable File has no untorn
// writes (untorn-ness is the journal's or the COW container's), writes
// zeros to Discard, and does not Allocate or clone. Durability beyond the crash model
// (a drive that lies about flushes) is out of scope. Mem holds two copies of
// its capacity in memory plus every write since the last Flush.
package blockdev

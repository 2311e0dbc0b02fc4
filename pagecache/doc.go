// Package pagecache is a userspace page cache for files, made of folios: one Cache per
// file, its memory from a Pool that one or more Caches share.
//
// A folio caches a naturally aligned power-of-two range of the file, 4 KiB to 2 MiB
// (off % size == 0). Its memory is carved by a buddy allocator out of one anonymous
// mmap arena the Go GC never scans, and is aligned to 4096 bytes so it can be handed to
// O_DIRECT I/O as it is. The arena starts on a 2 MiB boundary and asks for transparent huge
// pages (MADV_HUGEPAGE; where the kernel declines it is ordinary pages): the kernel then
// pins the folios of an O_DIRECT write for less (arena_map.go).
//
// A Pool holds the memory, the folio descriptors, the reclaim queues and the dirty
// thresholds; a Cache holds one file's index and dirty set. A Cache made without a pool
// (Config.Pool nil) makes one of its own and behaves as a cache of one file. Caches on one
// pool share its budget: reclaim evicts the clean, unused folios of any of them in one
// S3-FIFO order, the background and hard dirty thresholds count the dirty bytes of all of
// them, and a closed Cache gives its memory back at once. Writeback stays per Cache (each
// has its own dirty set, NeedWriteback channel and StartWriteback/EndWriteback). A pool's
// budget can also stand for memory its owner holds for the files elsewhere
// (Pool.SetReserve): the caches then get the rest, and the memory beyond it goes back to the
// OS.
//
// Guarantees:
//   - The caches of a pool never hold more folio memory than its budget (rounded down to
//     4 KiB), counting the private copies of folios under writeback. (Descriptors and the
//     indexes are small Go heap structures, sized once by the budget and per file, and not
//     counted.)
//   - A writer waits for writeback only while the pool's dirty bytes exceed the hard
//     threshold and its own cache holds at least its share of it (the threshold over the
//     number of caches holding dirty data): a cache that writes a lot cannot hold back
//     another's writes. A writer waiting for memory or for writeback wakes the writeback of
//     every cache of the pool that holds dirty data.
//   - A write is all or nothing: Reserve obtains every folio covering the range (reading old
//     bytes of partially covered folios through the caller's FillFunc) before Commit copies a
//     byte. When memory is short it waits for reclaim or writeback until the context is done,
//     then fails with an error wrapping ErrNoMemory, having changed nothing.
//   - A write whose range is a naturally aligned power of two (<= 2 MiB) that meets no
//     existing folio lands in exactly one folio.
//   - Dirty data is never dropped: only EndWriteback with a nil error clears dirty, and only
//     for the very folio generation that was written.
//   - A folio under writeback is never modified in place: a writer gets a copy that replaces
//     it in the index; the old memory is released by EndWriteback. Writers never wait for I/O.
//   - Reclaim evicts only clean, unpinned folios, in S3-FIFO order (scan resistant).
//   - Truncate is the one way dirty data leaves on purpose: it drops what lies past a cut
//     of the file (and zeroes the rest of a folio the cut crosses).
//
// Scratch is the memory for I/O buffers that a budget holder carves out of its budget next to
// a Cache: one mapping of a fixed size whose blocks are handed out and given back, never more
// than its size at once, without allocating.
//
// Caveats:
//   - The package does no I/O. Misses are reported to the caller (Read's gap), which reads
//     the device and calls Fill; partial writes get old bytes through a FillFunc.
//   - The writeback engine must order overlapping writebacks itself: the cache lets a copy be
//     written back while the folio it replaced is still in flight.
//   - StartWriteback fails with ErrBusy on a folio a Reservation holds; the engine retries.
//   - Memory is managed by a buddy allocator; fragmentation can make a large folio wait for
//     reclaim even when enough small blocks are free.
//   - Truncate must not run while a folio past the cut is under writeback or being read:
//     the caller excludes both.
//   - A Cache's Close must not run concurrently with its other methods, nor while its
//     Writeback views or Reservations are outstanding: it frees the memory they point into
//     (and unmaps a pool of its own). Pool.Close fails while a Cache of the pool is open.
//   - Fairness between the caches of a pool is by dirty shares and wake-ups, not by a queue:
//     a writer that needs memory still races the others for what writeback frees.
//
// Concurrency: every method of Pool, Cache and Reservation is safe for concurrent use
// (except Cache.Close, see above), and operations on different folios, or different caches,
// proceed in parallel (misses and evictions of all the caches of a pool take its one lock);
// Readahead is not safe for concurrent use.
package pagecache

// Package cow is the copy-on-write remap layer of untorn: a
// blockdev.BatchDevice over any blockdev.Device that offers untorn writes
// of any power-of-two size from BlockSize to a configurable maximum (8 MiB
// by default) and batches of many ranges committed as one unit, on devices
// that cannot write a range untorn in place (ext4, plain disks, or ranges
// beyond a device's RWF_ATOMIC maximum). It works like XFS's CoW fork: new
// data goes out of place, then the mapping is switched atomically.
//
// # How it works
//
// Data is never overwritten in place. Every WriteAt and CommitBatch
// becomes a transaction: its blocks are appended, with a header, at the
// head of a log that fills free segments sequentially, so a batch of
// random pages costs one sequential write and one flush. A logical block
// maps to its latest physical block through a flat in-memory map (one
// uint32 per block: 1 MiB per GiB, plus as much again for the reverse map
// the cleaner uses). Plain writes are committed the same way, so they
// never tear either; reads map through, coalesce physically contiguous
// blocks into inner reads of up to 1 MiB and issue scattered ones eight at
// a time.
//
// Commit rule: a record's header carries the CRC-32C of the data that
// follows it, so header and data go to the inner device in ONE write and a
// torn or partly written record simply fails its checksum: it is "not
// committed". A transaction is durable once an inner Flush has completed
// after its write: CommitBatch and WriteAt with FUA flush before they
// return (or, when everything before is already durable and the
// transaction is one record, write it with FUA), Flush flushes, and
// without either a transaction is volatile like any write. Recovery replays records in order and stops at the first one
// that is missing or invalid, so what survives a crash is always the
// state after some prefix of the completed transactions, never part of
// one, and never shorter than the last flush.
//
// Roots: there are two, as bbolt has two meta pages. Superblock copy k
// (block k) only ever names checkpoint slot k, and the checkpoint of
// generation g goes to slot g%2, then its superblock copy, before one
// flush. So a new root is never written over the newest valid one, and a
// crash at any moment, also during the recovery of an earlier crash, leaves
// at least one intact root. Open takes the intact root of the highest
// generation; it falls back to the other only when the newest one's
// checkpoint is torn or damaged.
//
// Space: a segment becomes reusable only when a checkpoint (a full copy of
// the map) that no longer needs it is durable: its data is dead in that
// checkpoint and every record in it precedes it. So no state that recovery
// could produce from the newest root refers
// to reused space. When free segments run low, the cleaner moves the live
// blocks of the emptiest segments (greedy) to the head in logical order,
// reading only the clusters of live blocks (see planVictimReads), then
// checkpoints. A checkpoint is also written when the log since the
// last one exceeds Options.CheckpointInterval (default 1/8 of the data
// area, at most 64 MiB), which bounds recovery: a 1 GiB device recovers in
// about 0.1 s (see TestRecoveryTime1GiB).
//
// Reads of 64 KiB or more whose data lies in fragments averaging under
// 64 KiB (random overwrites) write that data back contiguously
// (read-triggered defragmentation, like btrfs autodefrag), unless
// Options.NoReadDefrag; the logical content does not change.
//
// # Space: a container that follows its data
//
// The layout has room for the logical capacity L plus Options.SparePercent
// of it and a reserve (the segments one MaxBatch can take, plus three for
// the log head and the cleaner), but a new container holds one segment:
// the log takes segments in order, the lowest free one first and a new one
// only when none in use is free, so over a sparse file the segments never
// taken are holes. The cleaner keeps the segments in use within a budget
// that follows the live data, not L: the live blocks plus SparePercent of
// them, two segments of slack and the reserve. A segment a checkpoint
// frees is given back to an inner blockdev.Discarder (a punched hole) one
// checkpoint later, when no root can need what it holds; Open gives back
// every free segment and the rest of the layout. RequiredSize is the
// most a container can ever hold (1 GiB of capacity: 1166 MiB with the
// default 10%). Under uniformly random overwrites the greedy cleaner moves
// about 3 live blocks per block written at 10% headroom (see
// TestSpaceUnderRandomOverwrites) and about one at 25%.
//
// The file the container lives in follows its use too (see filesize.go).
// Format over a regular file (blockdev.Resizable) shorter than the layout,
// an empty new one in particular, does not extend it to the layout: the
// container grows the file (ftruncate, before the write that needs it) to
// its superblocks and checkpoints, then segment by segment as the log
// first writes into a segment further out than any before (once per
// segment, never per flush: the log takes the lowest free segment first,
// so in steady state it takes none), and cuts it after the highest
// segment any root can need once a checkpoint has freed those above. The
// apparent size (ls -l) then follows the highest segment in use. What the
// format fixes: the data area starts after both checkpoint slots, at
// block 2+2C, so a container's file is at least 2+C+1 blocks once its
// second root is written and 2+2C blocks and a segment once it holds data
// (at the default 1 TiB capacity of atomicio, about 2 GiB and 4 GiB: the
// map of N blocks takes 8N bytes per slot); moving the slots or the data
// area would take a new format version. Reads past the end of the file
// read zeros: a power cut after a growth and before the flush that makes
// it durable leaves the file shorter than a segment the log had started
// to use, and what was written there was not durable (the end of the
// log, not damage). A file as long as its layout (a container written
// before files followed their use, or one that grew to it) keeps its size,
// as does a device of fixed size.
//
// The file size (FileSize) is kept with the data: every record carries
// the size change its transaction makes (CommitSized: a cut, the data, a
// size), and every checkpoint the size, with a map of ceil(size/B)
// entries. WriteAt and CommitBatch grow the size to cover what they write.
//
// # On-disk format (version 3)
//
// All integers are little-endian; B is the block size (4096, or the inner
// device's block size if larger); block numbers are physical, in units of
// B. Checksums are CRC-32C (Castagnoli).
//
//	block 0, block 1          superblock copies 0 and 1 (the two roots)
//	block 2 ...               checkpoint slot 0 (C blocks, C = ceil((80+8N)/B), written only as far as the checkpoint reaches)
//	block 2+C ...             checkpoint slot 1
//	block 2+2C ...            data area: S segments of G blocks each
//
// A regular file may end before the layout does; past its end it reads as
// zeros (see Space above). A device of fixed size must hold the whole
// layout.
//
// Superblock (first 128 bytes of its block, rest zero):
//
//	0   u64 magic "TORNCOW1"    8   u32 version (3)     12  u32 block size B
//	16  u64 device id (random at Format; records and checkpoints repeat it)
//	24  u32 flags (1: formatting, names no checkpoint)  28  u32 zero
//	32  u64 epoch (bumped by every Open and recovery)
//	40  u64 N logical blocks    48  u64 G blocks per segment
//	56  u64 S segments          64  u64 C blocks per checkpoint slot
//	72  u64 AtomicMax bytes     80  u64 MaxBatch bytes
//	88  u32 zero                92  u32 the named checkpoint's header CRC
//	96  u64 its generation g (copy k names only generations with g%2 = k)
//	104 u32 cleaning headroom, percent of the live data (SparePercent)
//	124 u32 CRC of bytes [0, 124)
//
// Format first writes a superblock with the formatting flag to both copies
// and flushes (no old container can come back after that), then
// checkpoint generation 1 and copy 1. A device whose copies hold only that
// flag (or the flag and a root whose checkpoint is torn) was cut during
// Format: ErrIncompleteFormat.
//
// Checkpoint (at the start of its slot):
//
//	0   u64 magic "TRNCOWCK"    8   u32 version (3)     12  u32 zero
//	16  u64 device id           24  u64 generation
//	32  u64 sequence number of the first record after it
//	40  u64 physical block of that record (the log head when written)
//	48  u64 n = ceil(file size / B) 56  u32 CRC of the map and the sums
//	64  u64 file size in bytes  72  4 bytes zero
//	76  u32 CRC of bytes [0, 76)
//	80  n x u32 map: physical block of each logical block, 0 = never written
//	80+4n  n x u32 sums: CRC-32C of each logical block's data
//
// A checkpoint is written after a flush of the log (it refers to the log's
// data), with its superblock copy, then flushed; it becomes current for
// space reuse once that flush returns.
//
// Record: one or more header blocks, then its data blocks, all in one
// segment and written with one inner write:
//
//	0   u32 magic "UTRC"        4   u16 version (3)     6   u16 flags
//	8   u32 header blocks H = ceil((96+8E+4D)/B)        12  u32 E extents
//	16  u64 sequence number     24  u64 epoch           32  u64 device id
//	40  u64 physical block of the next record
//	48  u32 data blocks D       52  u32 CRC of the D data blocks as written
//	56  u64 durable watermark: every record with a lower sequence number
//	    had been flushed when this one was written
//	64  u64 cut: the file is first cut to this many bytes (blocks from
//	    ceil(cut/B) on unmapped); the size before when nothing is cut
//	72  u64 size: the file size after the transaction
//	80  12 bytes zero           92  u32 CRC of bytes [0, 92), the extents and the sums
//	96  E x (u32 first logical block, u32 count), ascending, disjoint
//	96+8E  D x u32: CRC-32C of each data block's content
//
// A record with no extents and no data (E = D = 0) changes the size only.
//
// The data of the extents follows the header in order. Flag 1 ("more")
// means the transaction continues in the next record (a transaction larger
// than the room left in a segment spans several); replay applies a
// transaction only when its last record is valid. Flag 2 marks records
// the cleaner or defragmentation wrote: their block sums are carried over
// from the map, not computed from what was read, so a damaged block stays
// detectable wherever it moves. A record is valid when both CRCs match,
// its device id and epoch are the superblock's, its sequence number is the
// one expected, and it lies within its segment. The next record follows
// directly, unless fewer than two blocks remain in the segment: then it
// starts a free segment chosen when this record was written. The epoch,
// bumped durably by every Open before it writes, keeps records left beyond
// the recovered end of the log by a crash from ever being replayed after
// new records with the same sequence numbers.
//
// End of the log or corruption: replay stops at the first record that is
// not valid. That is the torn tail of a crash unless some later record of
// the same epoch (found in the rest of that segment, at a segment start, or
// by following the records after those) has a durable watermark above the
// invalid record's sequence number: then that record had been flushed and
// was damaged since, and Open fails with ErrCorrupt naming it (without
// writing), unless Options.Salvage.
//
// Versioning: each structure carries a version; this code reads version 3
// and refuses anything else with ErrVersion. Version 1 (one shared root,
// no block sums) is not read: copy its data out with the release that
// wrote it. A file shorter than its layout is version 3 too, but a
// release from before files followed their use required the whole layout:
// it refuses such a file with ErrCorrupt (a layout larger than the
// device) and writes nothing. Extended to RequiredSize (truncate -s, a
// sparse extension), the file opens there, and here as a container of
// fixed size.
//
// # Errors
//
// Open on a device that holds no COW superblock fails with ErrNotFormatted
// (ErrIncompleteFormat after a cut Format), on another format version with
// ErrVersion, on a damaged one with ErrCorrupt; it never panics, never
// returns a device showing data that was not written there, and writes
// nothing when it fails on corruption. ReadAt checks every block it reads
// against its sum: a damaged block is ErrCorrupt, not wrong data.
//
// Failure classes. A failed inner write or flush (ENOSPC, EIO) is returned
// to its caller wrapped in ErrFailed, and leaves the on-disk state unknown
// to the device (a record or root may be half written): it writes nothing
// more until it has read that state again. The next WriteAt, CommitBatch,
// Flush or CleanAhead does that first, exactly as Open does (recovery from
// the newest intact root, a new root in a new epoch) and then goes on, so a
// transient error costs nothing that had completed (read-your-writes: the
// inner device still holds it), and the failed write is there whole or not
// at all. While the inner device keeps failing, so does that recovery, and
// the call reports it; reads keep working on the state before the failure.
// Corruption found by that recovery is permanent: the device refuses
// writes until it is reopened, which reports it.
//
// # Concurrency
//
// A Device is safe for concurrent use: writes, flushes and cleaning are
// serialised by one lock, reads share it.
//
// # Caveats
//
// A damaged record can be told from a torn tail only while a later record
// proves it was flushed: the records of the last flush before a crash
// (with nothing written after them) can lose a bit flip silently, as a
// torn write would; Close writes a checkpoint so that after a clean
// shutdown none are left. Open always writes (a root in a new epoch), and
// so may a large read (defragmentation; should that write fail, the next
// write or flush reports it with ErrFailed and recovers). Defragmentation
// trades writes for faster later reads: the first scan of heavily
// overwritten data on a full device costs several times a plain scan
// (BenchmarkSeqRead). The whole map lives in memory (12 bytes per logical
// block with the sums and the reverse map), twice during a recovery from
// an inner error. Format and Open take ownership of the inner device:
// Close closes it.
package cow

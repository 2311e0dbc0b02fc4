// Package logrec is the on-disk record both log-structured backends of
// untorn write: the COW container (blockdev/cow) and the side journal
// (blockdev/journal). It holds what they share and nothing else: the
// record header's encoding (magic "UTRC", version 3), CRC-32C helpers,
// folding per-block checksums into a record's data checksum (Folder), and
// locating and correcting a single flipped bit in a record at the end of a
// log (RepairHeader, RepairData), which a torn write never produces.
//
// # Record (all integers little-endian; B is the block size)
//
//	0   u32 magic "UTRC"        4   u16 version (3)     6   u16 flags
//	8   u32 header blocks H = ceil((96+8E+4D)/B)        12  u32 E extents
//	16  u64 sequence number     24  u64 epoch (container) or generation (journal)
//	32  u64 device id           40  u64 next record (physical block, or journal position)
//	48  u32 data blocks D       52  u32 CRC of the D data blocks as written
//	56  u64 durable watermark   64  u64 cut     72  u64 size
//	80  u32 previous record's header CRC (journal; 0 in the container)
//	84  8 bytes zero            92  u32 CRC of bytes [0, 92), the extents and the sums
//	96  E x (u32 first logical block, u32 count), ascending, disjoint
//	96+8E  D x u32: CRC-32C of each data block's content
//
// Flag FlagMore: the transaction continues in the next record. Flag
// FlagClean: the container's cleaner wrote it. DecodeHeader checks the
// shape and the checksum only; whether a record is current (device id,
// epoch, sequence number, place) is the backend's question. Errors wrap
// blockdev.ErrCorrupt.
package logrec

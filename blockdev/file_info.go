package blockdev

// AtomicInfo is what the kernel says about untorn and direct I/O on one
// file: the raw statx(STATX_WRITE_ATOMIC | STATX_DIOALIGN) answer on Linux.
// Elsewhere Stat fills in the file type, size and preferred I/O size only:
// no direct I/O and no untorn writes are reported.
type AtomicInfo struct {
	Mode  uint32 // file type and permissions (unix.S_IFREG, unix.S_IFBLK, ...)
	Size  uint64 // file size in bytes
	Rdev  [2]uint32
	Blksz uint32 // preferred I/O size

	DIOReported    bool   // STATX_DIOALIGN was answered
	DIOMemAlign    uint32 // required buffer alignment for O_DIRECT
	DIOOffsetAlign uint32 // required offset/length alignment for O_DIRECT

	AtomicReported    bool   // STATX_WRITE_ATOMIC was answered
	AtomicAttr        bool   // STATX_ATTR_WRITE_ATOMIC: the file accepts RWF_ATOMIC
	AtomicUnitMin     uint32 // smallest untorn write
	AtomicUnitMax     uint32 // largest untorn write
	AtomicUnitMaxOpt  uint32 // largest untorn write the device does in hardware (0: none, or a kernel before 6.16)
	AtomicSegmentsMax uint32 // iovecs allowed in one untorn write
}

// File types in AtomicInfo.Mode (the values of S_IFMT and its types on
// every Unix; Stat uses them on Windows too).
const (
	ModeTypeMask = 0o170000 // S_IFMT
	ModeRegular  = 0o100000 // S_IFREG
	ModeDir      = 0o040000 // S_IFDIR
	ModeBlock    = 0o060000 // S_IFBLK
)

package atomicio

import (
	"fmt"
	"github.com/untorn/untorn/blockdev/journal"
	"time"
)

// Mode says how untorn writes reach the device.
type Mode int

const (
	// ModeAuto picks, for a file (Open): the mode its journal or container
	// says when it has one (a file with a journal beside it is in journal
	// mode; a COW container is COW); else journal mode. In journal mode
	// under ModeAuto the hardware comes first: a Sync writes each untorn
	// unit whose naturally aligned power-of-two cover the drive writes
	// untorn in hardware (Limits.AtomicHardwareMax: statx
	// atomic_write_unit_max_opt, or a block device's queue limit) home in
	// place with RWF_ATOMIC, written once; the other units, plain data,
	// batches and size changes go through the journal, and so does a unit
	// whose pages still have an image in the journal that is not home
	// yet. XFS's software atomic writes (unit max opt 0) are not used:
	// they measured about 4x slower than the journal. For a device
	// (OpenDevice): COW for an all-zero device or an existing container,
	// native for a device that offers untorn writes of at least 2 x
	// MaxAtomic; OpenDeviceWithJournal is journal mode (in place as above
	// when its data device reports hardware atomic writes).
	ModeAuto Mode = iota
	// ModeNative writes each untorn range in place with RWF_ATOMIC, as the
	// smallest naturally aligned power-of-two unit covering it; the file
	// stays an ordinary file. A write whose unit exceeds the device's
	// largest untorn write fails with ErrTooLarge.
	ModeNative
	// ModeCOW keeps the data in a COW container (package blockdev/cow):
	// untorn writes of any alignment up to MaxAtomic, written out of place
	// and committed many at a time. The file on disk is a container, read
	// through this package only.
	ModeCOW
	// ModeJournal keeps the file an ordinary file in the caller's layout
	// and makes writes untorn with a side journal, "<path>-untorn"
	// (package blockdev/journal): a Sync appends one record (every page
	// it writes, with checksums) and flushes the journal once; a
	// checkpoint in the background writes the newest image of each page
	// home. Asked for by name, everything goes through the journal (no
	// unit in place; see ModeAuto). Untorn writes of any alignment up to MaxAtomic, batches and
	// size changes, as in COW mode. After a clean Close the journal is
	// empty and removed and the file is an ordinary file of exactly its
	// size. After a crash the file may hold torn pages until this package
	// opens it once (which replays the journal).
	ModeJournal
)

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeNative:
		return "native"
	case ModeCOW:
		return "cow"
	case ModeJournal:
		return "journal"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults of the zero Options.
const (
	DefaultCacheSize    = 64 << 20
	DefaultMaxAtomic    = 1 << 20
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxSize is the largest size a new COW file can grow to. It
	// costs no disk space up front: the container grows as data is
	// written (see Options.MaxSize).
	DefaultMaxSize = 1 << 40
	// DefaultCOWSparePercent: a new container is about 2x Size on disk.
	// Random overwrites of a full container make the cleaner copy live
	// data, and the headroom sets how much. With examples/bench on ext4
	// (aged containers, random 16 KiB pages, Sync every 64) untorn ran at
	// 0.35-0.43x the speed of the sequential-append bound with 50%
	// headroom (the cleaner moving 0.7 blocks per block written),
	// 0.45-0.5x with 75% and 0.54-0.6x with 100% (0.27 blocks). Lower it to
	// trade speed for space.
	DefaultCOWSparePercent = 100
)

// Options tune a File. The zero value means sensible defaults everywhere.
type Options struct {
	// CacheSize is the File's memory budget in bytes (DefaultCacheSize):
	// the page cache; the buffers of read misses (CacheSize/32, 16 KiB to
	// 4 MiB) and, in native mode, of untorn units assembled from several
	// folios (the lesser of CacheSize/4 and MaxAtomic; a unit larger than
	// that fails with ErrTooLarge); and in COW mode the container's maps and
	// buffers. The cache gets what the rest leaves, at least half, and at
	// least MaxAtomic when CacheSize allows. The cache's memory is mapped
	// and touched at open, so writes never pay page faults. (A COW
	// container recovering from a device error holds a second copy of its
	// maps while it does.)
	CacheSize int64
	// MaxAtomic is the largest untorn write accepted (DefaultMaxAtomic);
	// larger ones fail with ErrTooLarge.
	MaxAtomic int
	// Mode picks native RWF_ATOMIC, the side journal or the COW
	// container (ModeAuto: see there).
	Mode Mode
	// JournalSize is the capacity of the side journal a file gets in
	// journal mode (journal.DefaultCapacity, 32 MiB): written once when
	// the journal is created (each Open of a file without one), so that
	// its writes carry no file-system metadata. More lets a page
	// rewritten across many Syncs go home once; a transaction larger than
	// the journal grows it. Ignored when the journal exists.
	JournalSize int64
	// Size is the size a new file starts with (it reads as zeros up to
	// it), as if Truncate(Size) followed its creation; 0, the default, is
	// an empty file for Open, and for OpenDevice a file as large as the
	// device (MaxSize), as a block device has. Writes past the end and
	// Truncate change the size later. Ignored when the file or container
	// exists.
	Size int64
	// MaxSize is the largest size a new COW file (or the container
	// OpenDevice formats) can grow to (DefaultMaxSize for a file; as much
	// as the device holds for a device): writes past it fail with
	// ErrOutOfRange. It is a limit, not an allocation: a COW container
	// holds on disk about its live data plus COWSparePercent of it, and
	// its file's apparent size (ls -l) is MaxSize/256 (the checkpoint
	// slots before its data area, sparse: 4 GiB for the default) plus the
	// segments up to the highest in use; a container made before its file
	// followed its use keeps about twice MaxSize, sparse. In memory a COW
	// file takes 8 bytes per 4 KiB of its size
	// plus 4 per 4 KiB of container in use. A native file grows with its
	// file system and has no limit of its own. Ignored for an existing
	// file.
	MaxSize int64
	// WriteThrough makes every WriteAt durable before it returns (it runs
	// a Sync). Slower; for callers that want no window at all.
	WriteThrough bool
	// BackgroundDirty: above this many dirty bytes the flusher writes back
	// (default CacheSize/4). HardDirty: above it writers wait for writeback
	// (default CacheSize*3/4).
	BackgroundDirty, HardDirty int64
	// FlushInterval: dirty data older than about this is written back in
	// the background (default 1 s; negative disables the timer).
	FlushInterval time.Duration
	// QueueDepth is how many device writes writeback keeps in flight
	// (default 16).
	QueueDepth int
	// WriteTimeout bounds how long WriteAt waits for cache memory before
	// failing with ErrNoMemory (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Preallocate allocates a new file's space for its initial Size up
	// front: in native mode by writing the file whole once, so that the
	// file system allocates every block at creation instead of on the
	// first write into each (which costs a journal commit in the flush;
	// on ext4 this made a group commit of 64 pages about 20% faster); in
	// COW mode by allocating (fallocate) the container's first Size bytes
	// of segments, where the log writes first.
	Preallocate bool
	// Cache, when not nil, is the memory budget the File shares with the
	// other Files opened on it (see Cache); CacheSize, BackgroundDirty and
	// HardDirty must then be 0 (the Cache's size and limits apply).
	// nil: the File has a cache of its own, of CacheSize bytes.
	Cache *Cache
	// COWSparePercent is the cleaning headroom of a new COW container, as a
	// percentage of Size (DefaultCOWSparePercent): more disk space, less
	// copying under random overwrites (see package blockdev/cow).
	COWSparePercent int
	// Portable opens the files the way every platform can
	// (blockdev.FileOptions.Portable): through the system's cache, with no
	// untorn writes from the device, so that journal mode (or COW) makes
	// every write untorn. Always so on macOS and Windows; on Linux it
	// gives up O_DIRECT and RWF_ATOMIC (native mode is then refused), and
	// tests the code those systems run. OpenDevice ignores it: the device
	// is given.
	Portable bool

	// plainUntorn breaks the guarantee on purpose: the negative control
	// of the crash oracle (tests of this package only).
	plainUntorn bool
	// splitBatches commits a batch's pieces in separate transactions: the
	// negative control of the batch oracle (tests of this package only).
	splitBatches bool
	// journalBreak breaks a rule of the journal on purpose: its negative
	// controls (tests of this package only).
	journalBreak journal.Breakage
	// earlyFollowers lets a Sync that joined another's writeback pass
	// return before that pass's flush: the negative control of the group
	// commit tests (tests of this package only).
	earlyFollowers bool
	// Salvage opens a COW container whose log is damaged in the middle
	// (Open would fail with ErrCorrupt): it keeps what precedes the damage
	// and drops every transaction after it, even synced ones, and makes
	// that permanent. For getting at what is left of a damaged file, not
	// for everyday use.
	Salvage bool
}

func (o Options) withDefaults() (Options, error) {
	if o.CacheSize < 0 || o.MaxAtomic < 0 || o.Size < 0 || o.MaxSize < 0 || o.MaxSize > 0 && o.Size > o.MaxSize || o.BackgroundDirty < 0 || o.HardDirty < 0 ||
		o.QueueDepth < 0 || o.WriteTimeout < 0 || o.COWSparePercent < 0 || o.JournalSize < 0 || o.Mode < ModeAuto || o.Mode > ModeJournal {
		return o, fmt.Errorf("%w: options %+v", ErrInvalid, o)
	}
	if o.Cache != nil && (o.CacheSize != 0 || o.BackgroundDirty != 0 || o.HardDirty != 0) {
		return o, fmt.Errorf("%w: a File on a Cache takes its size and dirty limits from the Cache (CacheSize, BackgroundDirty and HardDirty must be 0)", ErrInvalid)
	}
	if o.CacheSize == 0 && o.Cache == nil {
		o.CacheSize = DefaultCacheSize
	}
	if o.MaxAtomic == 0 {
		o.MaxAtomic = DefaultMaxAtomic
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.COWSparePercent == 0 {
		o.COWSparePercent = DefaultCOWSparePercent
	}
	return o, nil
}

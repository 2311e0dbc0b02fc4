package torture

import (
	"fmt"
	"strings"
	"sync"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// Profile is one device setup: the Mems of a machine with some limits, the
// options a File is opened with, and the mode it must end up in.
type Profile struct {
	Name    string
	Limits  blockdev.Limits // of every device
	MemSize int64           // bytes of the data Mem: the file (native, journal) or the container (COW)
	// JournalMemSize is the bytes of the journal Mem of a journal profile
	// (opened with atomicio.OpenDeviceWithJournal); 0 for the others, whose
	// File runs on one Mem (atomicio.OpenDevice).
	JournalMemSize int64
	Options        atomicio.Options
	Mode           atomicio.Mode // the mode the File must run in (never ModeAuto)
}

// COW reports whether the profile's File is a COW container.
func (p Profile) COW() bool { return p.Mode == atomicio.ModeCOW }

// Journal reports whether the profile's File runs in journal mode, over a
// data Mem and a journal Mem.
func (p Profile) Journal() bool { return p.Mode == atomicio.ModeJournal }

// Logged reports whether the profile's File keeps a log with checksums, a
// COW container or a journal: its recovery writes (and can be cut), and a
// flipped bit in that log can be detected. A native file is a plain file:
// recovery writes nothing and its data has no checksums.
func (p Profile) Logged() bool { return p.COW() || p.Journal() }

// baseOptions: a cache that holds a whole small file, no background
// writeback (no timer, thresholds at the budget), one write in flight:
// device operations then happen only in Sync and Close, in an order fixed
// by the workload, so that a seed replays the same history.
func baseOptions(maxAtomic int) atomicio.Options {
	const cache = 512 << 10
	return atomicio.Options{
		CacheSize:       cache,
		MaxAtomic:       maxAtomic,
		FlushInterval:   -1,
		BackgroundDirty: cache * 3 / 4,
		HardDirty:       cache * 3 / 4,
		QueueDepth:      1,
	}
}

// Profiles returns every profile, in a fixed order. The devices are small
// (a 1 MiB container holds a 128 KiB file; a native file is 128 KiB too, and
// so is a journal profile's data device, with a journal of journalMemSize)
// so that one check, a reopen and a read of the whole file, takes about a
// millisecond.
func Profiles() []Profile {
	forceCOW := baseOptions(64 << 10)
	forceCOW.Mode = atomicio.ModeCOW
	return []Profile{
		// No untorn writes at all: OpenDevice makes a COW container.
		{Name: "none-cow", Limits: blockdev.LimitsNone, MemSize: 1 << 20, Options: baseOptions(64 << 10), Mode: atomicio.ModeCOW},
		// NVMe atomic units of 4-16 KiB, MaxAtomic 64 KiB: too small for
		// native, so COW.
		{Name: "nvme-cow", Limits: blockdev.LimitsNVMe, MemSize: 1 << 20, Options: baseOptions(64 << 10), Mode: atomicio.ModeCOW},
		// The same device with MaxAtomic 8 KiB: native (a write whose
		// aligned unit exceeds 16 KiB fails with ErrTooLarge).
		{Name: "nvme-native", Limits: blockdev.LimitsNVMe, MemSize: 128 << 10, Options: baseOptions(8 << 10), Mode: atomicio.ModeNative},
		// XFS-like 4 KiB..2 MiB: OpenDevice picks native.
		{Name: "xfs-native", Limits: blockdev.LimitsXFS, MemSize: 128 << 10, Options: baseOptions(64 << 10), Mode: atomicio.ModeNative},
		// The same device forced into a COW container with Options.Mode.
		{Name: "xfs-cow", Limits: blockdev.LimitsXFS, MemSize: 1 << 20, Options: forceCOW, Mode: atomicio.ModeCOW},
		// Journal mode (OpenDeviceWithJournal) on devices without untorn
		// writes, and on NVMe-like ones.
		journalProfile("none-journal", blockdev.LimitsNone),
		journalProfile("nvme-journal", blockdev.LimitsNVMe),
		// What macOS and Windows run (and Options.Portable on Linux): the
		// portable File's limits (no untorn writes, no buffer alignment).
		journalProfile("portable-journal", blockdev.LimitsPortable),
		// The hybrid (journal mode under ModeAuto): units the drive
		// writes untorn in hardware (16 KiB, 64 KiB) go home in place,
		// the rest through the journal.
		hybridProfile("nvme16k-hybrid", blockdev.LimitsNVMe),
		hybridProfile("nvme64k-hybrid", blockdev.LimitsNVMe64K),
	}
}

// Hybrid reports whether the profile's File runs in journal mode under
// ModeAuto over devices with hardware atomic writes: units in place and
// through the journal.
func (p Profile) Hybrid() bool {
	return p.Journal() && p.Options.Mode == atomicio.ModeAuto && p.Limits.AtomicHardwareMax > 0
}

// hybridProfile is journalProfile under ModeAuto: the hybrid.
func hybridProfile(name string, l blockdev.Limits) Profile {
	p := journalProfile(name, l)
	p.Options.Mode = atomicio.ModeAuto
	return p
}

// journalMemSize is the journal Mem of a journal profile: two header
// blocks and a record area of 152 KiB (38 blocks). That holds a record of
// the whole 128 KiB file (32 data blocks and one header block: a Sync can
// write all of it), and a case's workload fills it in about three cases out
// of four (TestJournalProfilesWrap): a commit then finds the ring full and
// checkpoints first, and the records after it reuse the space freed, so
// checkpoints and the ring's wrap happen inside the cases.
const journalMemSize = 160 << 10

// journalProfile is a journal-mode profile: a data Mem of 128 KiB (the
// file) and a journal Mem of journalMemSize, both with limits l, MaxAtomic
// 64 KiB. The journal's background checkpoints are off (baseOptions sets
// FlushInterval < 0), so a seed replays the same I/O.
func journalProfile(name string, l blockdev.Limits) Profile {
	opts := baseOptions(64 << 10)
	opts.Mode = atomicio.ModeJournal
	opts.JournalSize = journalMemSize - 2*4096 // the record area: all but the two header blocks
	return Profile{Name: name, Limits: l, MemSize: 128 << 10, JournalMemSize: journalMemSize, Options: opts, Mode: atomicio.ModeJournal}
}

// ProfileNames returns the names of Profiles, in order.
func ProfileNames() []string {
	var names []string
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return names
}

// SelectProfiles returns the profiles with the given names, in the order
// given; no names means all of them.
func SelectProfiles(names []string) ([]Profile, error) {
	all := Profiles()
	if len(names) == 0 {
		return all, nil
	}
	var out []Profile
	for _, n := range names {
		found := false
		for _, p := range all {
			if p.Name == n {
				out, found = append(out, p), true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: profile %q (have %s)", ErrConfig, n, strings.Join(ProfileNames(), ", "))
		}
	}
	return out, nil
}

// fileSizes caches the size of a File on each profile's new machine, by
// profile name.
var fileSizes sync.Map // string -> int64

// fileSize returns the size of a File opened on a new machine of the
// profile (for a COW container, its logical size), opening one the first
// time.
func (p Profile) fileSize() (int64, error) {
	if v, ok := fileSizes.Load(p.Name); ok {
		return v.(int64), nil
	}
	m, err := p.newMachine()
	if err != nil {
		return 0, err
	}
	f, err := p.open(m, nil)
	if err != nil {
		return 0, annotate(err, "open a new device")
	}
	size := f.Size()
	if err := f.Close(); err != nil {
		_ = f.Abandon()
		return 0, annotate(err, "close a new device")
	}
	fileSizes.Store(p.Name, size)
	return size, nil
}

package atomicio

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/rapidflag"
	"github.com/untorn/untorn/writeback"
)

// How many rapid checks each rapid test of this package (each oracle
// profile, the files oracle, the real-file properties) runs: few in the
// default run, many with UNTORN_LONG=1 (internal/testsize); -rapid.checks
// or RAPID_CHECKS overrides both.
const (
	oracleChecks     = 4
	oracleChecksLong = 60
)

// Tests of this package that run in parallel (t.Parallel) set no package
// variable (createHook, fsync, renameNoReplace: the create tests, which
// stay sequential) and start no process: a child forked while a parallel
// test closes and reopens a real file holds that file's flock until it
// execs, and the reopen fails with ErrLocked. So the tests that run
// children or mount XFS (xfstest runs losetup, mkfs.xfs, mount) stay
// sequential too; Go runs every parallel test after the sequential ones.
func TestMain(m *testing.M) {
	rapidflag.Sized(oracleChecks, oracleChecksLong)
	os.Exit(m.Run())
}

// profile is one device setup of the oracle.
type profile struct {
	name   string
	limits blockdev.Limits
	size   int64 // device size: the file's (native, journal) or the container's (COW)
	// journal is the journal device's size in journal mode (0: another
	// mode); the journal fills it (opts.JournalSize).
	journal int64
	opts    Options
	faults  bool // inject EIO/ENOSPC at random I/O indexes
	mode    Mode // the mode the File must end up in
}

func oracleProfiles() []profile {
	base := Options{CacheSize: 512 << 10, FlushInterval: 2 * time.Millisecond, WriteTimeout: 10 * time.Second}
	small := base
	small.CacheSize = 96 << 10
	return []profile{
		{name: "xfs-native", limits: blockdev.LimitsXFS, size: 128 << 10, opts: base, mode: ModeNative},
		{name: "xfs-native-small-cache", limits: blockdev.LimitsXFS, size: 128 << 10, opts: small, mode: ModeNative},
		{name: "xfs-native-faults", limits: blockdev.LimitsXFS, size: 128 << 10, opts: base, faults: true, mode: ModeNative},
		{name: "none-cow", limits: blockdev.LimitsNone, size: 1 << 20, opts: base, mode: ModeCOW},
		{name: "nvme-cow-small-cache", limits: blockdev.LimitsNVMe, size: 1 << 20, opts: small, mode: ModeCOW},
		{name: "none-cow-faults", limits: blockdev.LimitsNone, size: 1 << 20, opts: base, faults: true, mode: ModeCOW},
		journalProfile("none-journal", blockdev.LimitsNone, base, false),
		journalProfile("nvme-journal-small-cache", blockdev.LimitsNVMe, journalOnly(small), false),
		journalProfile("none-journal-faults", blockdev.LimitsNone, base, true),
		// What macOS and Windows run (and Options.Portable on Linux): the
		// portable File's limits (no untorn writes, no buffer alignment),
		// journal mode.
		journalProfile("portable-journal", blockdev.LimitsPortable, base, false),
		// The hybrid (ModeAuto): units the data device writes in hardware
		// (16 KiB, 64 KiB) go home in place, the rest through the journal.
		journalProfile("nvme16k-hybrid-faults", blockdev.LimitsNVMe, base, true),
		journalProfile("nvme64k-hybrid-small-cache", blockdev.LimitsNVMe64K, small, false),
	}
}

// journalOnly is opts asking for journal mode by name: everything through
// the journal, no unit in place.
func journalOnly(opts Options) Options {
	opts.Mode = ModeJournal
	return opts
}

// journalProfile is a journal-mode profile: a 1 MiB file and a journal of
// 192 KiB, small enough to wrap and to fill inside one history.
func journalProfile(name string, l blockdev.Limits, opts Options, faults bool) profile {
	const journal = 192 << 10
	opts.JournalSize = journal - 2*4096
	return profile{name: name, limits: l, size: 1 << 20, journal: journal, opts: opts, faults: faults, mode: ModeJournal}
}

// stack is a File over a machine (a Mem, or two in journal mode), with
// the handles a test needs: every device operation passes a FaultDevice,
// which injects random faults (profiles with faults) and can cut the power
// of the whole machine just before a chosen write or flush.
type stack struct {
	m     machine
	crash *blockdev.CrashPoint
	f     *File
	fds   []*blockdev.FaultDevice
	inj   blockdev.Injector // the crash point, with the random faults of profiles that have them
}

func openStack(p profile, m machine, seed uint64) (*stack, error) {
	s := &stack{m: m, crash: m.crashPoint()}
	inj := blockdev.Injector(s.crash)
	if p.faults {
		inj = blockdev.Any(s.crash, blockdev.OnlyKinds(
			blockdev.Any(blockdev.Randomly(0.02, seed, blockdev.ErrInjectedEIO), blockdev.Randomly(0.01, seed+1, blockdev.ErrInjectedENOSPC)),
			blockdev.OpWrite, blockdev.OpAtomicWrite, blockdev.OpFlush))
	}
	s.inj = inj
	f, fds, err := m.open(p.opts, inj)
	if err != nil {
		return nil, err
	}
	s.f, s.fds = f, fds
	return s, nil
}

// setInjector puts inj in front of every device of the stack.
func (s *stack) setInjector(inj blockdev.Injector) {
	for _, fd := range s.fds {
		fd.SetInjector(inj)
	}
}

// injected reports whether err comes from the fault injector.
func injected(err error) bool {
	return errors.Is(err, blockdev.ErrInjected) && (errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC))
}

// oracleRun drives one history. Both the rapid test and the negative
// control use it.
type oracleRun struct {
	p    profile
	s    *stack
	o    *oracle
	seed uint64
	fail func(format string, args ...any)
	errs int // injected errors seen by the caller
}

func (r *oracleRun) write(off int64, n int, untorn bool) {
	id, p := r.o.newWrite(off, n)
	var err error
	if untorn {
		_, err = WriteAt(r.s.f, p, off)
	} else {
		_, err = r.s.f.WriteAt(p, off)
	}
	switch {
	case err == nil:
		r.o.applied(id, p, off, untorn)
	case r.p.faults && injected(err):
		r.errs++ // nothing was written
	case errors.Is(err, ErrNoMemory) && r.p.opts.CacheSize < 128<<10:
	case errors.Is(err, ErrTooLarge) && r.s.f.Mode() == ModeNative:
	default:
		r.fail("write [%d, +%d) untorn=%v: %v", off, n, untorn, err)
	}
}

func (r *oracleRun) read(off int64, n int) {
	buf := make([]byte, n)
	got, err := r.s.f.ReadAt(buf, off)
	if err != nil {
		r.fail("read [%d, +%d): %v", off, n, err)
		return
	}
	if got != n || !bytes.Equal(buf, r.o.current[off:off+int64(n)]) {
		r.fail("read [%d, +%d) differs from the model", off, n)
	}
}

func (r *oracleRun) sync() {
	mark := r.o.syncStarted()
	err := r.s.f.Sync()
	switch {
	case err == nil:
		r.o.syncDone(mark)
	case r.p.faults && injected(err):
		r.errs++
	default:
		r.fail("sync: %v", err)
	}
}

// syncs runs k Syncs at once (they share passes: group commit) while
// write, if not nil, writes; the writes before them are synced when every
// one of them returned nil.
func (r *oracleRun) syncs(k int, write func()) {
	mark := r.o.syncStarted()
	errs := make(chan error, k)
	for range k {
		go func() { errs <- r.s.f.Sync() }()
	}
	if write != nil {
		write()
	}
	ok := true
	for range k {
		switch err := <-errs; {
		case err == nil:
		case r.p.faults && injected(err):
			r.errs++
			ok = false
		default:
			r.fail("sync: %v", err)
			ok = false
		}
	}
	if ok {
		r.o.syncDone(mark)
	}
}

// crash cuts the power now, reopens the crashed device and verifies it,
// then carries on with the reopened File.
func (r *oracleRun) crash(cfg blockdev.CrashConfig) {
	clone := r.s.m.cut(cfg)
	addStats(r.p.name, r.s.f)
	_ = r.s.f.Abandon()
	r.reopen(clone, false)
}

// crashInSync cuts the power just before the k-th device write or flush of a
// Sync (mid-writeback: units written, not yet flushed, say), verifies the
// device as found then, and carries on with it.
func (r *oracleRun) crashInSync(k int, cfg blockdev.CrashConfig) {
	r.s.crash.Arm(k, cfg)
	mark := r.o.syncStarted()
	err := r.s.f.Sync()
	clone, _ := r.s.crash.TakeAll()
	switch {
	case err != nil && !(r.p.faults && injected(err)):
		r.fail("sync: %v", err)
	case err != nil:
		r.errs++
	case clone == nil: // the Sync finished before the k-th operation: cut now
		r.o.syncDone(mark)
	}
	if clone == nil {
		clone = r.s.m.cut(cfg)
	}
	addStats(r.p.name, r.s.f)
	_ = r.s.f.Abandon()
	r.reopen(clone, false)
}

// heal lets the device work again (no more injected faults) for one Sync,
// which must then succeed, whatever failed before: a File never stays
// failed on a device that works. Then the faults come back.
func (r *oracleRun) heal() {
	r.s.setInjector(r.s.crash)
	defer r.s.setInjector(r.s.inj)
	mark := r.o.syncStarted()
	if err := r.s.f.Sync(); err != nil {
		r.fail("sync on a device that works again: %v", err)
		return
	}
	r.o.syncDone(mark)
}

// crashInRecovery cuts the power now, then again during the recovery of
// that image (at the k-th write or flush of OpenDevice), and again during
// the recovery of that one, up to len(ks) times; the image at the end must
// hold what the oracle allows, like after any crash.
func (r *oracleRun) crashInRecovery(cfg blockdev.CrashConfig, ks []int) {
	clone := r.s.m.cut(cfg)
	addStats(r.p.name, r.s.f)
	_ = r.s.f.Abandon()
	for i, k := range ks {
		work := clone.cut(blockdev.CrashConfig{Survive: 1}) // a copy: clone stays as it is
		cp := work.crashPoint()
		cp.Arm(k, blockdev.CrashConfig{Seed: cfg.Seed + uint64(i) + 1, Survive: cfg.Survive})
		f, _, err := work.open(r.p.opts, cp)
		if err != nil {
			r.fail("recovery %d: %v", i+1, err)
			return
		}
		_ = f.Abandon()
		next, ok := cp.TakeAll()
		if !ok {
			break // the recovery wrote less than that: reopen the image it started from
		}
		clone = next
		r.o.recoveryCrashes++
	}
	r.reopen(clone, false)
}

// closeReopen closes cleanly (everything durable) and reopens.
func (r *oracleRun) closeReopen() {
	mark := r.o.syncStarted()
	if err := r.s.f.Close(); err != nil {
		if r.p.faults && injected(err) {
			r.errs++
			return
		}
		r.fail("close: %v", err)
		return
	}
	r.o.syncDone(mark)
	addStats(r.p.name, r.s.f)
	r.reopen(r.s.m.cut(blockdev.CrashConfig{}), true)
}

// epilogue ends every case with what each case must hit, whatever rapid
// drew: on a profile with faults, an injected fault that reaches the
// caller; on a COW or journal profile, a power cut during the recovery of
// a crash image (their recoveries always write: a COW checkpoint and
// superblocks; the journal's replay and its reset to a new generation).
// Checked per case, these hold in any subset and at any number of checks.
func (r *oracleRun) epilogue() {
	if r.p.faults {
		r.faultMustSurface()
	}
	if hw := r.p.limits.AtomicHardwareMax; r.p.opts.Mode == ModeAuto && hw > 0 && r.p.journal > 0 {
		// The hybrid takes both paths in every case: after a clean close
		// (the journal empty) a hardware unit goes home in place, and a
		// unit across a page boundary that is not naturally aligned goes
		// through the journal.
		r.closeReopen()
		r.write(0, hw, true)
		r.write(int64(2*hw)-100, 200, true)
		r.sync()
	}
	cuts := r.o.recoveryCrashes
	r.crashInRecovery(blockdev.CrashConfig{Seed: r.seed, Survive: 0.5}, []int{0})
	if r.p.mode != ModeNative && r.o.recoveryCrashes == cuts {
		r.fail("the recovery of a %v crash image wrote nothing: no power cut during it", r.p.mode)
	}
}

// faultMustSurface fails every device write and flush (an injected EIO),
// writes one page into the cache and syncs: the write or the Sync must
// report the fault. The injector fails the device before the write, so a
// background pass cannot write the page back first (it fails too, and the
// page stays dirty for the Sync). Then the device works again (heal) and a
// crash image is verified.
func (r *oracleRun) faultMustSurface() {
	errs := r.errs
	r.s.setInjector(blockdev.Any(r.s.crash, blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO),
		blockdev.OpWrite, blockdev.OpAtomicWrite, blockdev.OpFlush)))
	r.write(0, 4096, true)
	r.sync()
	r.s.setInjector(r.s.inj)
	if r.errs == errs {
		r.fail("a Sync with every device write failing reported no error")
		return
	}
	r.heal()
	r.crash(blockdev.CrashConfig{Seed: r.seed, Survive: 0.5})
}

func (r *oracleRun) reopen(clone machine, exact bool) {
	var s *stack
	var err error
	for range 10 { // recovery may write, and an injected fault may fail it: retry
		r.seed++
		if s, err = openStack(r.p, clone, r.seed); err == nil || !(r.p.faults && injected(err)) {
			break
		}
		r.errs++
	}
	if err != nil {
		r.fail("reopen: %v", err)
		return
	}
	r.s = s
	if s.f.Mode() != r.p.mode {
		r.fail("reopened in mode %v, want %v", s.f.Mode(), r.p.mode)
	}
	img, err := readAll(s.f)
	if err != nil {
		r.fail("read after reopen: %v", err)
		return
	}
	if exact && !bytes.Equal(img, r.o.current) {
		r.fail("after a clean close the file differs from what was written")
	}
	if err := r.o.check(img); err != nil {
		r.fail("crash verification: %v", err)
		return
	}
	if err := r.o.rebase(img); err != nil {
		r.fail("rebase: %v", err)
	}
}

var (
	oracleVerified atomic.Int64
	oracleFaults   atomic.Int64 // injected errors that reached the caller
	// oracleRecoveryCrashes: power cuts during the recovery of a crash image
	oracleRecoveryCrashes atomic.Int64
	oracleStats           struct {
		sync.Mutex
		writeback.Stats
	}
)

// journalPaths counts, per profile, the bytes the journal wrote home in
// place and in records, and the crash images verified.
type journalPaths struct{ inPlaceWrites, inPlaceBytes, recordBytes, verified int64 }

var oracleJournal = map[string]*journalPaths{} // guarded by oracleStats

// addStats accumulates the path statistics of a File about to go (of
// profile name).
func addStats(name string, f *File) {
	st := f.Stats()
	s := st.Writeback
	oracleStats.Lock()
	defer oracleStats.Unlock()
	jp := oracleJournal[name]
	if jp == nil {
		jp = &journalPaths{}
		oracleJournal[name] = jp
	}
	jp.inPlaceWrites += st.Journal.InPlaceWrites
	jp.inPlaceBytes += st.Journal.InPlaceBytes
	jp.recordBytes += st.Journal.RecordBytes
	o := &oracleStats.Stats
	o.Passes += s.Passes
	o.NativeAtomic += s.NativeAtomic
	o.ZeroCopyUnits += s.ZeroCopyUnits
	o.PlainWrites += s.PlainWrites
	o.Batches += s.Batches
	o.BatchPieces += s.BatchPieces
	o.UntornWrites += s.UntornWrites
	o.Merges += s.Merges
	o.ForcedWritebacks += s.ForcedWritebacks
	o.Throttles += s.Throttles
	o.SkippedGroups += s.SkippedGroups
	o.Errors += s.Errors
	o.BytesWritten += s.BytesWritten
	o.CleanAhead += s.CleanAhead
}

func TestCrashOracle(t *testing.T) {
	t.Parallel()
	t.Cleanup(func() { // after every profile, parallel ones too
		t.Logf("crash verifications: %d; power cuts during recovery: %d; injected errors surfaced: %d",
			oracleVerified.Load(), oracleRecoveryCrashes.Load(), oracleFaults.Load())
		t.Logf("paths: %+v", oracleStats.Stats)
	})
	for _, p := range oracleProfiles() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			oracleProperty(t, p)
		})
	}
}

// oracleProperty is the rapid property of one profile: random histories of
// writes, reads, Syncs, power cuts (anywhere, inside a Sync, inside
// recoveries) and clean reopens, every crash image verified, each case
// ending with its epilogue.
func oracleProperty(t *testing.T, p profile) {
	rapid.Check(t, func(t *rapid.T) {
		m, err := newMachine(p)
		require.NoError(t, err)
		s, err := openStack(p, m, 1)
		require.NoError(t, err)
		r := &oracleRun{p: p, s: s, o: newOracle(s.f.Size()), seed: 1, fail: t.Fatalf}
		defer func() { _ = r.s.f.Abandon() }()
		require.Equal(t, p.mode, s.f.Mode())
		size := s.f.Size()
		genRange := func(t *rapid.T) (int64, int) {
			var n int
			switch rapid.IntRange(0, 3).Draw(t, "shape") {
			case 0: // a page, aligned
				pages := []int{1, 2, 4}
				if p.limits.AtomicHardwareMax > 16<<10 {
					pages = []int{1, 2, 4, 8, 16} // up to a 64 KiB hardware unit
				}
				n = 4096 * rapid.SampledFrom(pages).Draw(t, "pages")
				return int64(rapid.IntRange(0, int(size)/n-1).Draw(t, "slot")) * int64(n), n
			case 1: // small and unaligned
				n = rapid.IntRange(1, 600).Draw(t, "len")
			default:
				n = rapid.IntRange(1, 16<<10).Draw(t, "len")
			}
			// Hot spots make overlaps likely.
			hot := rapid.IntRange(0, 3).Draw(t, "hot") * int(size) / 4
			off := min(int64(hot+rapid.IntRange(0, 12<<10).Draw(t, "delta")), size-int64(n))
			return off, n
		}
		t.Repeat(map[string]func(*rapid.T){
			"untorn": func(t *rapid.T) {
				if r.o.full() {
					t.Skip("id space used up")
				}
				off, n := genRange(t)
				r.write(off, n, true)
			},
			"plain": func(t *rapid.T) {
				if r.o.full() {
					t.Skip("id space used up")
				}
				off, n := genRange(t)
				r.write(off, n, false)
			},
			"read": func(t *rapid.T) {
				off, n := genRange(t)
				r.read(off, n)
			},
			"sync": func(t *rapid.T) { r.sync() },
			"syncs": func(t *rapid.T) {
				k := rapid.IntRange(2, 6).Draw(t, "syncs")
				var write func()
				if !r.o.full() && rapid.Bool().Draw(t, "write meanwhile") {
					off, n := genRange(t)
					write = func() { r.write(off, n, true) }
				}
				r.syncs(k, write)
			},
			"background": func(t *rapid.T) {
				time.Sleep(time.Duration(rapid.IntRange(0, 4).Draw(t, "ms")) * time.Millisecond)
			},
			"crash": func(t *rapid.T) {
				r.crash(blockdev.CrashConfig{
					Seed:    rapid.Uint64().Draw(t, "seed"),
					Survive: rapid.SampledFrom([]float64{0, 0.3, 0.5, 0.8, 1}).Draw(t, "survive"),
				})
			},
			"crashInSync": func(t *rapid.T) {
				r.crashInSync(rapid.IntRange(0, 12).Draw(t, "op"), blockdev.CrashConfig{
					Seed:    rapid.Uint64().Draw(t, "seed"),
					Survive: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "survive"),
				})
			},
			"close": func(t *rapid.T) { r.closeReopen() },
			"heal":  func(t *rapid.T) { r.heal() },
			"crashInRecovery": func(t *rapid.T) {
				cfg := blockdev.CrashConfig{
					Seed:    rapid.Uint64().Draw(t, "seed"),
					Survive: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "survive"),
				}
				ks := rapid.SliceOfN(rapid.IntRange(0, 6), 1, 3).Draw(t, "recovery ops")
				r.crashInRecovery(cfg, ks)
			},
		})
		r.epilogue()
		oracleVerified.Add(int64(r.o.verified))
		oracleRecoveryCrashes.Add(int64(r.o.recoveryCrashes))
		oracleFaults.Add(int64(r.errs))
		addStats(r.p.name, r.s.f)
		oracleStats.Lock()
		oracleJournal[r.p.name].verified += int64(r.o.verified)
		oracleStats.Unlock()
	})
	checkJournalPaths(t, p)
}

// checkJournalPaths logs which way a journal profile's data went, after
// its rapid cases: a hybrid profile must have written units in place and
// records, a journal-only one no unit in place.
func checkJournalPaths(t *testing.T, p profile) {
	if p.journal == 0 {
		return
	}
	oracleStats.Lock()
	jp := *oracleJournal[p.name]
	oracleStats.Unlock()
	t.Logf("%s: %d crash images verified; journal: %d units (%d bytes) in place, %d bytes in records", p.name,
		jp.verified, jp.inPlaceWrites, jp.inPlaceBytes, jp.recordBytes)
	if p.opts.Mode == ModeAuto && p.limits.AtomicHardwareMax > 0 {
		require.Positive(t, jp.inPlaceWrites, "the hybrid wrote no unit in place")
		require.Positive(t, jp.recordBytes, "the hybrid journaled nothing")
	} else {
		require.Zero(t, jp.inPlaceWrites, "journal only, yet units went in place")
	}
}

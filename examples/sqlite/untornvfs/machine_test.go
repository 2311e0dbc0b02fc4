package untornvfs

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// machineDevice is the size of a crash machine's simulated device (the
// container in COW mode, the data device in journal mode).
const machineDevice = 2 << 20

// Journal mode's side of a crash machine: a journal device of
// machineJournalDevice bytes whose ring (machineJournal bytes) fills every
// few transactions, so that the workload checkpoints (writes pages home)
// often; both devices tear at 512 bytes, inside a page.
const (
	machineJournal       = 256 << 10
	machineJournalDevice = machineJournal + 64<<10
)

// machineLimits are the limits of journal mode's two devices: plain
// devices (no untorn writes) that tear at 512 bytes.
var machineLimits = blockdev.Limits{BlockSize: 512, MemAlign: 512}

// machine is a simulated computer for the crash test: blockdev.Mems
// holding the database (a COW container on one Mem, or in journal mode the
// data file on one and its journal on another) and a crashDir holding
// SQLite's journals, with one power switch. Every device write and flush
// and every SQLite journal write, truncate, sync and delete passes tick,
// which counts it and, when the test asks, cuts the power just before it:
// it takes an image of all of them at one instant (blockdev.CrashCloneAll,
// crashDir.image) while the machine runs on.
type machine struct {
	mode  atomicio.Mode // ModeCOW or ModeJournal
	mem   *blockdev.Mem // the container, or the data device
	jmem  *blockdev.Mem // the journal device (journal mode); nil otherwise
	dir   *crashDir
	vfs   *VFS
	fresh bool // the Mems hold no file yet: the first open empties the File
	opts  atomicio.Options
	// lyingDataFlush: the data device's Flush does nothing (journal
	// mode), a negative control.
	lyingDataFlush bool

	mu     sync.Mutex // guards the fields below; held while onCut runs
	ops    int        // operations ticked so far
	cutAt  func(op int) bool
	onCut  func(img *machineImage)
	seed   uint64
	closed bool
	fault  func(blockdev.Op) error // fails a device write or flush; nil: none
}

// machineImage is what a power cut leaves: the devices, the journals, and
// the op index it came before.
type machineImage struct {
	op   int
	mode atomicio.Mode
	mem  *blockdev.Mem
	jmem *blockdev.Mem // journal mode only
	dir  map[string][]byte
}

// fileOptions keep writeback deterministic (no timer, no background
// threshold reached, no background checkpoint): device operations happen
// at Sync and at Open (and in journal mode checkpoints when the journal is
// full, and at Close).
func fileOptions(mode atomicio.Mode) atomicio.Options {
	return atomicio.Options{Mode: mode, CacheSize: 512 << 10, MaxAtomic: 64 << 10, FlushInterval: -1, BackgroundDirty: 384 << 10, HardDirty: 384 << 10,
		JournalSize: machineJournal}
}

// machineConfig sets a machine's knobs (the zero value: the VFS as users
// get it, in journal mode).
type machineConfig struct {
	mode         atomicio.Mode // ModeCOW or ModeJournal (ModeAuto: journal)
	plainBatches bool          // VFS.plainBatches; implies writeThrough
	writeThrough bool          // every page reaches the device at once (Options.WriteThrough)
	ioerrCommit  bool          // VFS.ioerrCommit
	// lyingDataFlush (journal mode): the data device's Flush returns
	// without flushing, so a checkpoint frees journal space whose pages
	// are not durable at home: the negative control of the journal's
	// order rule.
	lyingDataFlush bool
}

// newMachine returns a machine over img (nil: new, empty devices) and
// the name its VFS is registered under, until unregister is called. A
// machine over an image runs in the image's mode, as the VFS as users get
// it.
func newMachine(t testing.TB, img *machineImage, cfg machineConfig) (m *machine, name string, unregister func()) {
	m = &machine{mode: cfg.mode, lyingDataFlush: cfg.lyingDataFlush}
	if m.mode == atomicio.ModeAuto {
		m.mode = atomicio.ModeJournal
	}
	if img == nil {
		limits := blockdev.LimitsXFS
		if m.mode == atomicio.ModeJournal {
			limits = machineLimits
			jmem, err := blockdev.NewMem(machineJournalDevice, limits)
			require.NoError(t, err)
			m.jmem = jmem
		}
		mem, err := blockdev.NewMem(machineDevice, limits)
		require.NoError(t, err)
		m.mem, m.fresh, m.dir = mem, true, newCrashDir(m.tick)
	} else {
		m.mode, m.mem, m.jmem, m.dir = img.mode, img.mem, img.jmem, restoreDir(img.dir, m.tick)
	}
	m.opts = fileOptions(m.mode)
	// The negative control's pages go to the device one by one, as a file
	// system with untorn page writes but no batches would write them.
	m.opts.WriteThrough = cfg.plainBatches || cfg.writeThrough
	m.vfs = &VFS{Aux: m.dir, OpenFile: m.openFile, plainBatches: cfg.plainBatches, ioerrCommit: cfg.ioerrCommit}
	name, unregister = registerNow(m.vfs)
	return m, name, unregister
}

func (m *machine) openFile(string) (*atomicio.File, error) {
	inj := blockdev.InjectorFunc(m.deviceOp)
	var f *atomicio.File
	var err error
	if m.mode == atomicio.ModeJournal {
		var data blockdev.Device = blockdev.WithFaults(m.mem, inj)
		if m.lyingDataFlush {
			data = lyingFlush{data}
		}
		f, err = atomicio.OpenDeviceWithJournal(data, blockdev.WithFaults(m.jmem, inj), m.opts)
	} else {
		f, err = atomicio.OpenDevice(blockdev.WithFaults(m.mem, inj), m.opts)
	}
	if err != nil || !m.fresh {
		return f, err
	}
	m.fresh = false
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	return f, f.Sync()
}

// lyingFlush is a device whose Flush returns at once without flushing.
type lyingFlush struct{ blockdev.Device }

func (lyingFlush) Flush() error { return nil }

// mems returns the machine's Mems, in the order an image holds them.
func (m *machine) mems() []*blockdev.Mem {
	if m.jmem != nil {
		return []*blockdev.Mem{m.mem, m.jmem}
	}
	return []*blockdev.Mem{m.mem}
}

// image builds the machineImage of a power cut now, with cfg.
// REQUIRES: m.mu held.
func (m *machine) imageLocked(op int, cfg blockdev.CrashConfig, rng *rand.Rand) *machineImage {
	img := &machineImage{op: op, mode: m.mode}
	clones := blockdev.CrashCloneAll(cfg, m.mems()...)
	img.mem = clones[0]
	if len(clones) > 1 {
		img.jmem = clones[1]
	}
	img.dir = m.dir.image(rng, cfg.Survive)
	return img
}

func (m *machine) deviceOp(op blockdev.Op) error {
	if op.Kind == blockdev.OpRead {
		return nil
	}
	m.tick()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault == nil {
		return nil
	}
	return m.fault(op)
}

// setFault makes every later device write and flush ask fault whether it
// fails (nil: none fails).
func (m *machine) setFault(fault func(blockdev.Op) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault = fault
}

// powerCut returns what a power cut now leaves, with every volatile write
// lost.
func (m *machine) powerCut() *machineImage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.imageLocked(m.ops, blockdev.CrashConfig{}, nil)
}

// tick counts an operation and cuts the power before it if cutAt says so.
func (m *machine) tick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := m.ops
	m.ops++
	if m.closed || m.cutAt == nil || !m.cutAt(op) {
		return
	}
	rng := rand.New(rand.NewPCG(m.seed, uint64(op)))
	survive := []float64{0, 0.5, 1}[rng.IntN(3)]
	m.onCut(m.imageLocked(op, blockdev.CrashConfig{Seed: rng.Uint64(), Survive: survive}, rng))
}

// arm makes every later operation for which cutAt is true cut the power,
// handing the image to onCut (under the machine's lock).
func (m *machine) arm(seed uint64, cutAt func(op int) bool, onCut func(*machineImage)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seed, m.cutAt, m.onCut = seed, cutAt, onCut
}

// disarm stops cutting; later operations are only counted.
func (m *machine) disarm() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cutAt, m.closed = nil, true
}

// opCount returns the operations ticked so far.
func (m *machine) opCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

package untornvfs

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// machineDevice is the size of a crash machine's simulated device.
const machineDevice = 2 << 20

// machine is a simulated computer for the crash test: a blockdev.Mem
// holding the database's container and a crashDir holding its journals,
// with one power switch. Every device write and flush and every journal
// write, truncate, sync and delete passes tick, which counts it and, when
// the test asks, cuts the power just before it: it takes an image of both
// (Mem.CrashClone, crashDir.image) while the machine runs on.
type machine struct {
	mem   *blockdev.Mem
	dir   *crashDir
	vfs   *VFS
	fresh bool // the Mem holds no container yet: the first open empties the File
	opts  atomicio.Options

	mu     sync.Mutex // guards the fields below; held while onCut runs
	ops    int        // operations ticked so far
	cutAt  func(op int) bool
	onCut  func(img *machineImage)
	seed   uint64
	closed bool
	fault  func(blockdev.Op) error // fails a device write or flush; nil: none
}

// machineImage is what a power cut leaves: the device, the journals, and
// the op index it came before.
type machineImage struct {
	op  int
	mem *blockdev.Mem
	dir map[string][]byte
}

// fileOptions keep writeback deterministic (no timer, no background
// threshold reached): device operations happen at Sync and at Open.
func fileOptions() atomicio.Options {
	return atomicio.Options{Mode: atomicio.ModeCOW, CacheSize: 512 << 10, MaxAtomic: 64 << 10, FlushInterval: -1, BackgroundDirty: 384 << 10, HardDirty: 384 << 10}
}

// machineConfig sets a machine's knobs (the zero value: the VFS as users
// get it).
type machineConfig struct {
	plainBatches bool // VFS.plainBatches; implies writeThrough
	writeThrough bool // every page reaches the device at once (Options.WriteThrough)
	ioerrCommit  bool // VFS.ioerrCommit
}

// newMachine returns a machine over img (nil: a new, empty device) and
// the name its VFS is registered under, until unregister is called.
func newMachine(t testing.TB, img *machineImage, cfg machineConfig) (m *machine, name string, unregister func()) {
	m = &machine{}
	if img == nil {
		mem, err := blockdev.NewMem(machineDevice, blockdev.LimitsXFS)
		require.NoError(t, err)
		m.mem, m.fresh, m.dir = mem, true, newCrashDir(m.tick)
	} else {
		m.mem, m.dir = img.mem, restoreDir(img.dir, m.tick)
	}
	m.opts = fileOptions()
	// The negative control's pages go to the device one by one, as a file
	// system with untorn page writes but no batches would write them.
	m.opts.WriteThrough = cfg.plainBatches || cfg.writeThrough
	m.vfs = &VFS{Aux: m.dir, OpenFile: m.openFile, plainBatches: cfg.plainBatches, ioerrCommit: cfg.ioerrCommit}
	name, unregister = registerNow(m.vfs)
	return m, name, unregister
}

func (m *machine) openFile(string) (*atomicio.File, error) {
	f, err := atomicio.OpenDevice(blockdev.WithFaults(m.mem, blockdev.InjectorFunc(m.deviceOp)), m.opts)
	if err != nil || !m.fresh {
		return f, err
	}
	m.fresh = false
	if err := f.Truncate(0); err != nil {
		return nil, err
	}
	return f, f.Sync()
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
	return &machineImage{op: m.ops, mem: m.mem.CrashClone(blockdev.CrashConfig{}), dir: m.dir.image(nil, 0)}
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
	img := &machineImage{
		op:  op,
		mem: m.mem.CrashClone(blockdev.CrashConfig{Seed: rng.Uint64(), Survive: survive}),
		dir: m.dir.image(rng, survive),
	}
	m.onCut(img)
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

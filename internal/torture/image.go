package torture

import (
	"sync/atomic"

	"github.com/untorn/untorn/blockdev"
)

// checkImage reopens img (a crash image: the File takes it) with the
// profile's options, reads the whole file and checks it against m at snap.
// It counts one check and returns nil or a *Violation.
func (c *caseRun) checkImage(img machine, m *Model, snap Snapshot) error {
	c.Stats.Checks++
	data, err := c.readImage(img)
	if err != nil {
		return err
	}
	return c.checker.Check(m, snap, data)
}

// readImage reopens img (the File takes it) with the profile's options
// and returns the whole file; the error is the one the open (OpenDevice,
// OpenDeviceWithJournal) or ReadAt returned (or a *Violation when the file
// has the wrong mode or size).
func (c *caseRun) readImage(img machine) ([]byte, error) {
	f, err := c.Profile.open(img, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Abandon() }()
	return readAll(f)
}

// crashConfig returns a random crash configuration: no volatile write
// surviving, all of them, or each with a random chance.
func (c *caseRun) crashConfig() blockdev.CrashConfig {
	cfg := blockdev.CrashConfig{Seed: c.rng.Uint64()}
	switch r := c.rng.IntN(5); r {
	case 0:
		cfg.Survive = 0
	case 1:
		cfg.Survive = 1
	default:
		cfg.Survive = c.rng.Float64()
	}
	return cfg
}

// opCounter is an Injector that counts device writes and flushes (the
// operations a CrashPoint counts) and never fails one. Given to every
// device of a machine, it counts them together.
type opCounter struct{ n atomic.Uint64 }

var _ blockdev.Injector = (*opCounter)(nil)

func (o *opCounter) MaybeError(op blockdev.Op) error {
	if op.Kind != blockdev.OpRead {
		o.n.Add(1)
	}
	return nil
}

func (o *opCounter) load() uint64 { return o.n.Load() }

package blockdev

import (
	"math/rand/v2"
	"sync"
)

// CrashConfig says how a CrashClone picks the volatile writes that survive.
type CrashConfig struct {
	// Seed makes the choice deterministic: the same Mem history and the
	// same config give the same clone.
	Seed uint64
	// Survive is the chance that each volatile unit survives: a whole
	// Atomic write, or one block of a plain write. <= 0 keeps none of
	// them, >= 1 keeps all. FUA writes and writes before the last completed
	// Flush survive regardless.
	Survive float64
}

// CrashClone returns an independent Mem holding what the device would hold
// after a power cut now: the durable image, then, in issue order, every FUA
// write and a random subset of the other volatile writes, an Atomic write
// whole or not at all and a plain write block by block. The clone has no
// volatile writes, is open, and shares no memory with m, which runs on
// unchanged.
func (m *Mem) CrashClone(cfg CrashConfig) *Mem {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.crashCloneLocked(cfg)
}

// crashAllMu serialises CrashCloneAll, the only code that holds more than
// one Mem's lock, so that two of them never wait for each other.
var crashAllMu sync.Mutex

// CrashCloneAll cuts the power of several Mems at one instant, as one
// machine's devices lose it together (a data file and its journal): it
// holds every Mem's lock while it clones them, so no write or flush of any
// of them falls between two clones. Clone i is built as CrashClone with
// seed cfg.Seed+i; the Mems run on unchanged.
func CrashCloneAll(cfg CrashConfig, mems ...*Mem) []*Mem {
	crashAllMu.Lock()
	defer crashAllMu.Unlock()
	for _, m := range mems {
		m.mu.RLock()
	}
	defer func() {
		for _, m := range mems {
			m.mu.RUnlock()
		}
	}()
	out := make([]*Mem, len(mems))
	for i, m := range mems {
		c := cfg
		c.Seed += uint64(i)
		out[i] = m.crashCloneLocked(c)
	}
	return out
}

// crashCloneLocked is CrashClone.
// REQUIRES: m.mu held (shared is enough).
func (m *Mem) crashCloneLocked(cfg CrashConfig) *Mem {
	img := make([]byte, m.size)
	copy(img, m.durable)

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x756e746f726e)) // "untorn"
	keep := func() bool {
		switch {
		case cfg.Survive <= 0:
			return false
		case cfg.Survive >= 1:
			return true
		}
		return rng.Float64() < cfg.Survive
	}
	bs := m.limits.BlockSize
	for _, w := range m.log {
		switch {
		case w.flags&FUA != 0:
			copy(img[w.off:], w.data)
		case w.flags&Atomic != 0:
			if keep() {
				copy(img[w.off:], w.data)
			}
		default:
			for b := 0; b < len(w.data); b += bs {
				if keep() {
					copy(img[w.off+int64(b):], w.data[b:b+bs])
				}
			}
		}
	}
	cur := make([]byte, m.size)
	copy(cur, img)
	return &Mem{size: m.size, limits: m.limits, cur: cur, durable: img}
}

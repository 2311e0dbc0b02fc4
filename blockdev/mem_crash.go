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
// unchanged. For a Mem made by NewMemFile the size is in the model too: the
// resizes since the last Flush survive as a prefix (each with the same
// chance as a write, none after the first one lost), a surviving cut
// zeros what it cut, and whatever lies past the size that survived is
// gone.
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
	// img has room for every size the log went through; size is the size
	// of the image as built so far: the durable one, then after each
	// resize that survives. Resizes survive as a prefix (a file system
	// commits size changes in order): after the first one lost, none.
	// Those before a FUA write survive: like fdatasync, a write with
	// RWF_DSYNC commits the size changes before it.
	img := make([]byte, max(int64(len(m.durable)), m.maxLoggedSizeLocked()))
	copy(img, m.durable)
	size := int64(len(m.durable))
	resizes := true
	lastFUA := -1
	for i, w := range m.log {
		if !w.resize && w.flags&FUA != 0 {
			lastFUA = i
		}
	}

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
	for i, w := range m.log {
		switch {
		case w.resize:
			if resizes = resizes && (i < lastFUA || keep()); resizes {
				if w.off < size {
					clear(img[w.off:size]) // cut: a later growth reads zeros
				}
				size = w.off
			}
		case w.flags&FUA != 0:
			copy(img[w.off:], w.data)
		case w.flags&Atomic != 0 && (m.tearAbove == 0 || len(w.data) <= m.tearAbove):
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
	// Writes past the size that survived are gone with the growth they
	// needed.
	clear(img[size:])
	img = img[:size]
	cur := make([]byte, size)
	copy(cur, img)
	c := &Mem{limits: m.limits, file: m.file, limit: m.limit, cur: cur, durable: img, tearAbove: m.tearAbove}
	c.size.Store(size)
	return c
}

// maxLoggedSizeLocked is the largest size a resize since the last Flush
// set (0 if none).
// REQUIRES: m.mu held (shared is enough).
func (m *Mem) maxLoggedSizeLocked() int64 {
	var n int64
	for _, w := range m.log {
		if w.resize {
			n = max(n, w.off)
		}
	}
	return n
}

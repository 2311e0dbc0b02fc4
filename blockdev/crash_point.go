package blockdev

import "sync"

// CrashPoint is an Injector that cuts the power of a Mem just before a
// chosen write or flush: after Arm(k, cfg) it clones the Mem (CrashClone)
// before the k-th write or flush that reaches it (reads do not count), so
// a test can crash in the middle of a writeback at every index. Use it
// with WithFaults, alone or composed with Any. It never fails an
// operation.
type CrashPoint struct {
	mem *Mem

	mu        sync.Mutex // guards the fields below
	armed     bool
	countdown int
	cfg       CrashConfig
	clone     *Mem
}

var _ Injector = (*CrashPoint)(nil)

// NewCrashPoint returns a disarmed CrashPoint for m.
func NewCrashPoint(m *Mem) *CrashPoint { return &CrashPoint{mem: m} }

// Arm makes the power fail just before the k-th (0-based) write or flush
// from now, with cfg. It forgets any clone not taken yet.
func (c *CrashPoint) Arm(k int, cfg CrashConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.countdown, c.cfg, c.clone = true, k, cfg, nil
}

// Take disarms and returns the clone, or false if the k-th write or flush
// never came.
func (c *CrashPoint) Take() (*Mem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clone := c.clone
	c.armed, c.clone = false, nil
	return clone, clone != nil
}

// MaybeError clones the Mem when the armed operation comes; it runs before
// the operation reaches the Mem and outside the Mem's lock.
func (c *CrashPoint) MaybeError(op Op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || op.Kind == OpRead {
		return nil
	}
	if c.countdown == 0 {
		c.clone, c.armed = c.mem.CrashClone(c.cfg), false
	}
	c.countdown--
	return nil
}

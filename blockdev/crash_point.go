package blockdev

import "sync"

// CrashPoint is an Injector that cuts the power of a Mem, or of several
// Mems at one instant (CrashCloneAll), just before a chosen write or
// flush: after Arm(k, cfg) it clones the Mems before the k-th write or
// flush that reaches it (reads do not count), so a test can crash in the
// middle of a writeback at every index. Use it with WithFaults, alone or
// composed with Any; give one CrashPoint to the FaultDevice of every Mem
// it cuts, so that it counts their operations together. It never fails an
// operation.
type CrashPoint struct {
	mems []*Mem

	mu        sync.Mutex // guards the fields below
	armed     bool
	countdown int
	cfg       CrashConfig
	clones    []*Mem
}

var _ Injector = (*CrashPoint)(nil)

// NewCrashPoint returns a disarmed CrashPoint for m and the others, whose
// power it cuts together.
func NewCrashPoint(m *Mem, others ...*Mem) *CrashPoint {
	return &CrashPoint{mems: append([]*Mem{m}, others...)}
}

// Arm makes the power fail just before the k-th (0-based) write or flush
// from now, with cfg. It forgets any clone not taken yet.
func (c *CrashPoint) Arm(k int, cfg CrashConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.countdown, c.cfg, c.clones = true, k, cfg, nil
}

// Take disarms and returns the clone of the first Mem, or false if the
// k-th write or flush never came.
func (c *CrashPoint) Take() (*Mem, bool) {
	clones, ok := c.TakeAll()
	if !ok {
		return nil, false
	}
	return clones[0], true
}

// TakeAll disarms and returns the clones of all the Mems (in the order
// NewCrashPoint got them), or false if the k-th write or flush never came.
func (c *CrashPoint) TakeAll() ([]*Mem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clones := c.clones
	c.armed, c.clones = false, nil
	return clones, clones != nil
}

// Fired reports whether the armed write or flush came (its clones wait
// for Take or TakeAll).
func (c *CrashPoint) Fired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clones != nil
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
		c.clones, c.armed = CrashCloneAll(c.cfg, c.mems...), false
	}
	c.countdown--
	return nil
}

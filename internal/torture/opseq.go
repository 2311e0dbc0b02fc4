package torture

import (
	"sync"

	"github.com/untorn/untorn/blockdev"
)

// opSeq is an Injector for every device of a machine that numbers their
// operations together, every kind (reads too, and whatever else a
// FaultDevice offers), in the order they reach it, and fails the one
// numbered by failAt with its fault, once. On a machine of one device its
// numbers are that device's FaultDevice's (Op.Index). It remembers the
// kind and the device of the operation it failed.
type opSeq struct {
	fault error

	mu      sync.Mutex // guards the fields below
	n       uint64     // operations so far
	at      uint64     // the operation to fail (when armed)
	armed   bool
	hitKind blockdev.OpKind
	hitDev  int
	hitDone bool
}

var (
	_ blockdev.Injector = (*opSeq)(nil)
	_ deviceInjector    = (*opSeq)(nil)
)

// deviceInjector is an Injector that wants to know the device an operation
// goes to: Profile.open gives device i of the machine forDevice(i) instead.
type deviceInjector interface {
	forDevice(i int) blockdev.Injector
}

// MaybeError counts an operation of device 0.
func (s *opSeq) MaybeError(op blockdev.Op) error { return s.offer(op, 0) }

func (s *opSeq) forDevice(i int) blockdev.Injector {
	return blockdev.InjectorFunc(func(op blockdev.Op) error { return s.offer(op, i) })
}

func (s *opSeq) offer(op blockdev.Op, dev int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.n
	s.n++
	if !s.armed || i != s.at {
		return nil
	}
	s.armed = false
	s.hitKind, s.hitDev, s.hitDone = op.Kind, dev, true
	return s.fault
}

// ops returns how many operations were offered so far; the next one gets
// this number.
func (s *opSeq) ops() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// failAt arms the fault for operation number i.
func (s *opSeq) failAt(i uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.armed = i, true
}

// hit returns the kind and the device of the operation that failed, and
// false if none did.
func (s *opSeq) hit() (blockdev.OpKind, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hitKind, s.hitDev, s.hitDone
}

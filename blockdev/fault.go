package blockdev

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
)

// OpKind is the kind of a device operation, for fault injection.
type OpKind uint8

const (
	OpRead        OpKind = iota // ReadAt
	OpWrite                     // WriteAt without Atomic; also Discard, Resize and Allocate
	OpAtomicWrite               // WriteAt with Atomic
	OpFlush                     // Flush
)

func (k OpKind) String() string {
	switch k {
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpAtomicWrite:
		return "atomic write"
	case OpFlush:
		return "flush"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op describes one operation offered to an Injector.
type Op struct {
	Index uint64 // 0-based position among all operations the FaultDevice saw
	Kind  OpKind
	Off   int64 // -1 for Flush
	Len   int
	Flags Flags
}

// Injector decides whether an operation fails. A nil error lets it run.
// Injectors are composed with Any and OnlyKinds, in the style of pebble's
// errorfs. They are called concurrently when the device is used
// concurrently and must be safe for that.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op) error

// MaybeError calls f.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// Injected errors: each wraps ErrInjected and the errno it simulates.
var (
	ErrInjectedEIO    = errors.Join(ErrInjected, syscall.EIO)
	ErrInjectedENOSPC = errors.Join(ErrInjected, syscall.ENOSPC)
)

// AtIndex fails the operation with the given Index (and only it) with err.
func AtIndex(index uint64, err error) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Index == index {
			return err
		}
		return nil
	})
}

// Overlapping fails every operation that touches bytes [lo, hi) with err
// (a Flush, which touches no range, never): a bad region of the medium.
// Compose it with OnlyKinds to fail only reads, say.
func Overlapping(lo, hi int64, err error) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Kind != OpFlush && op.Off < hi && op.Off+int64(op.Len) > lo {
			return err
		}
		return nil
	})
}

// FromIndex fails every operation from the given Index on with err: a
// device that died.
func FromIndex(index uint64, err error) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Index >= index {
			return err
		}
		return nil
	})
}

// Randomly fails each operation with probability p, deterministically from
// seed for a given sequence of operations.
func Randomly(p float64, seed uint64, err error) Injector {
	var mu sync.Mutex // guards rng
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return InjectorFunc(func(Op) error {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < p {
			return err
		}
		return nil
	})
}

// OnlyKinds passes to inj only the operations of the given kinds; the
// others always run.
func OnlyKinds(inj Injector, kinds ...OpKind) Injector {
	var mask uint32
	for _, k := range kinds {
		mask |= 1 << k
	}
	return InjectorFunc(func(op Op) error {
		if mask&(1<<op.Kind) == 0 {
			return nil
		}
		return inj.MaybeError(op)
	})
}

// Any returns the first error any of injs returns, asking them in order.
func Any(injs ...Injector) Injector {
	return InjectorFunc(func(op Op) error {
		for _, inj := range injs {
			if err := inj.MaybeError(op); err != nil {
				return err
			}
		}
		return nil
	})
}

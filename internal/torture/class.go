package torture

import (
	"errors"
	"fmt"
)

// Class names a kind of failure a campaign can find.
type Class int

const (
	// Torn: an untorn write shows its data in one part of its range and
	// older data in another.
	Torn Class = iota
	// Lost: a write that a successful Sync made durable is missing.
	Lost
	// Phantom: a byte that no write put there (and that is not zero).
	Phantom
	// Stuck: after one transient fault the device works again, but Sync
	// kept failing.
	Stuck
	// Silent: a flipped bit changed what reads return without any error
	// wrapping atomicio.ErrCorrupt (blockdev.ErrCorrupt).
	Silent
	// WrongRead: a read of the running File did not return the latest
	// data written (read-your-writes).
	WrongRead
	// Unexpected: an operation failed with an error the campaign does not
	// allow (for example a reopen that fails, or an error that is not the
	// injected one).
	Unexpected
	numClasses
)

func (c Class) String() string {
	switch c {
	case Torn:
		return "torn"
	case Lost:
		return "lost"
	case Phantom:
		return "phantom"
	case Stuck:
		return "stuck"
	case Silent:
		return "silent"
	case WrongRead:
		return "wrong read"
	case Unexpected:
		return "unexpected error"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Violation is a failure found by a check: its class and what was seen.
type Violation struct {
	Class  Class
	Detail string
	Err    error // the error behind an Unexpected or Stuck violation, if any
}

func (v *Violation) Error() string {
	if v.Err != nil {
		return v.Class.String() + ": " + v.Detail + ": " + v.Err.Error()
	}
	return v.Class.String() + ": " + v.Detail
}

// Unwrap returns the error behind the violation.
func (v *Violation) Unwrap() error { return v.Err }

// violation builds a *Violation with a formatted detail.
func violation(c Class, err error, format string, args ...any) *Violation {
	return &Violation{Class: c, Detail: fmt.Sprintf(format, args...), Err: err}
}

// ClassOf returns the class of err: its Violation's, or Unexpected.
func ClassOf(err error) Class {
	if v, ok := errors.AsType[*Violation](err); ok {
		return v.Class
	}
	return Unexpected
}

// annotate prefixes the detail of err's Violation with where it was found
// (err itself is a Violation, or becomes the Err of an Unexpected one).
func annotate(err error, format string, args ...any) error {
	where := fmt.Sprintf(format, args...)
	if v, ok := err.(*Violation); ok {
		return &Violation{Class: v.Class, Detail: where + ": " + v.Detail, Err: v.Err}
	}
	return violation(Unexpected, err, "%s", where)
}

package blockdev

import (
	"fmt"
	"strconv"
)

// OpError records a failed operation on a device: what was attempted, on
// which path and at which offset. It unwraps to the cause, typically a
// syscall.Errno and/or one of this package's sentinel errors.
type OpError struct {
	Op   string // "read", "write", "atomic write", "flush", "open", "close", ...
	Path string // the file or device path; empty for memory devices
	Off  int64  // byte offset, -1 when the operation has none
	Len  int    // length in bytes, 0 when the operation has none
	Err  error  // the cause
}

func (e *OpError) Error() string {
	s := "blockdev: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Off >= 0 {
		s += " at " + strconv.FormatInt(e.Off, 10)
		if e.Len > 0 {
			s += fmt.Sprintf("+%d", e.Len)
		}
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func opName(flags Flags, write bool) string {
	switch {
	case !write:
		return "read"
	case flags&Atomic != 0:
		return "atomic write"
	default:
		return "write"
	}
}

package extent

import "errors"

var (
	// ErrInvalidRange is returned for a range with a negative offset or with
	// End <= Off.
	ErrInvalidRange = errors.New("extent: invalid range")
	// ErrInvalidSize is returned by Truncate for a negative size.
	ErrInvalidSize = errors.New("extent: invalid size")
)

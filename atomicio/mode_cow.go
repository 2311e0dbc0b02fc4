package atomicio

import (
	"errors"

	"github.com/untorn/untorn/blockdev"
)

var errNotFormatted = errors.New("not formatted")

func openCOW(dev blockdev.Device, opts Options) (blockdev.Device, error) {
	return nil, errNotFormatted
}

func formatCOW(dev blockdev.Device, opts Options) (blockdev.Device, error) {
	return nil, blockdev.ErrAtomicUnsupported
}

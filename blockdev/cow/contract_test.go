package cow

import (
	"path/filepath"
	"testing"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
)

// contractOptions keep the contract devices small: 1 MiB segments, the
// default 8 MiB AtomicMax.
var contractOptions = Options{LogicalSize: devicetest.MinSize, SegmentSize: 1 << 20}

func TestContractMem(t *testing.T) {
	for name, l := range blockdev.MemProfiles() {
		t.Run(name, func(t *testing.T) {
			devicetest.Run(t, func(t *testing.T) blockdev.Device {
				d, _ := formatMem(t, l, contractOptions)
				return d
			})
		})
	}
}

func TestContractFile(t *testing.T) {
	devicetest.Run(t, func(t *testing.T) blockdev.Device {
		return formatFile(t, filepath.Join(t.TempDir(), "cow"), contractOptions)
	})
}

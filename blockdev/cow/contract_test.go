package cow

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
				size, err := RequiredSize(l.BlockSize, contractOptions)
				require.NoError(t, err)
				mem, err := blockdev.NewMem(size, l)
				require.NoError(t, err)
				d, err := Format(mem, contractOptions)
				require.NoError(t, err)
				checkOnCleanup(t, d)
				return d
			})
		})
	}
}

func TestContractFile(t *testing.T) {
	devicetest.Run(t, func(t *testing.T) blockdev.Device {
		size, err := RequiredSize(4096, contractOptions)
		require.NoError(t, err)
		f, err := blockdev.OpenFile(filepath.Join(t.TempDir(), "cow"), blockdev.FileOptions{Size: size, Create: true})
		require.NoError(t, err)
		d, err := Format(f, contractOptions)
		require.NoError(t, err)
		return d
	})
}

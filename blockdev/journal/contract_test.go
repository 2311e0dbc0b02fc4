package journal

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/devicetest"
)

// contractOptions: a journal large enough for the suite's largest untorn
// write (twice 2 MiB would not be asked of it: AtomicMax follows the area).
var contractOptions = Options{Capacity: 4 << 20, LogicalSize: devicetest.MinSize}

func TestContractMem(t *testing.T) {
	t.Parallel()
	for name, l := range blockdev.MemProfiles() {
		t.Run(name, func(t *testing.T) {
			devicetest.Run(t, func(t *testing.T) blockdev.Device {
				data, err := blockdev.NewMem(devicetest.MinSize, l)
				require.NoError(t, err)
				jrnl, err := blockdev.NewMem(hdrCopies*testBS+contractOptions.Capacity, l)
				require.NoError(t, err)
				d, err := Format(data, jrnl, contractOptions)
				require.NoError(t, err)
				return d
			})
		})
	}
}

func TestContractFile(t *testing.T) {
	t.Parallel()
	devicetest.Run(t, openFileJournal(blockdev.FileOptions{Create: true}))
}

// TestContractPortableFile: the journal over two portable Files (what
// macOS and Windows run: no O_DIRECT, no untorn writes from the files).
func TestContractPortableFile(t *testing.T) {
	t.Parallel()
	devicetest.Run(t, openFileJournal(blockdev.FileOptions{Create: true, Portable: true}))
}

// openFileJournal returns a constructor of journal Devices over a data
// file and its journal, both opened with opts, in a new directory.
func openFileJournal(opts blockdev.FileOptions) func(t *testing.T) blockdev.Device {
	return func(t *testing.T) blockdev.Device {
		dir := t.TempDir()
		data, err := blockdev.OpenFile(filepath.Join(dir, "data"), opts)
		require.NoError(t, err)
		jrnl, err := blockdev.OpenFile(filepath.Join(dir, "data-untorn"), opts)
		require.NoError(t, err)
		d, err := Format(data, jrnl, contractOptions)
		require.NoError(t, err)
		return d
	}
}

package cow

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// newMem returns a Mem with limits l, as large as a device with opts
// needs (RequiredSize).
func newMem(t require.TestingT, l blockdev.Limits, opts Options) *blockdev.Mem {
	size, err := RequiredSize(l.BlockSize, opts)
	require.NoError(t, err)
	mem, err := blockdev.NewMem(size, l)
	require.NoError(t, err)
	return mem
}

// formatMem formats a device with opts on a new Mem (see newMem) and checks
// its invariants when the test ends.
func formatMem(t testing.TB, l blockdev.Limits, opts Options) (*Device, *blockdev.Mem) {
	mem := newMem(t, l, opts)
	d, err := Format(mem, opts)
	require.NoError(t, err)
	checkOnCleanup(t, d)
	return d, mem
}

// formatGrowingFile formats a device with opts on a new, empty file at
// path, which the container grows (see filesize.go). The caller closes
// it.
func formatGrowingFile(t testing.TB, path string, opts Options) *Device {
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Create: true})
	require.NoError(t, err)
	d, err := Format(f, opts)
	require.NoError(t, err)
	require.True(t, d.grows)
	return d
}

// formatFile formats a device with opts on a new sparse file at path, as
// large as the device needs. The caller closes it.
func formatFile(t testing.TB, path string, opts Options) *Device {
	size, err := RequiredSize(4096, opts)
	require.NoError(t, err)
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: size, Create: true})
	require.NoError(t, err)
	d, err := Format(f, opts)
	require.NoError(t, err)
	return d
}

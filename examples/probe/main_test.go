package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/xfstest"
)

func TestProbeTempDir(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, probe(&out, dir))
	require.Contains(t, out.String(), "RWF_ATOMIC write:")
	require.Contains(t, out.String(), "hardware untorn:")
	require.Contains(t, out.String(), "hardware atomic max")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the probe removes its temporary file")
}

func TestProbeXFS(t *testing.T) {
	mnt := xfstest.Mount(t)
	var out bytes.Buffer
	require.NoError(t, probe(&out, mnt))
	require.Contains(t, out.String(), "unit min 4096")
	require.Contains(t, out.String(), "RWF_ATOMIC write:      succeeded")
	// A loop device: XFS's software atomic writes only (unit max opt 0).
	require.Contains(t, out.String(), "hardware untorn:       none reported")
}

// TestHardwareVerdict: what the probe says journal mode does with a
// drive's own untorn writes.
func TestHardwareVerdict(t *testing.T) {
	info := blockdev.AtomicInfo{AtomicReported: true, AtomicAttr: true, AtomicUnitMin: 4096, AtomicUnitMax: 2 << 20}
	require.Contains(t, hardwareVerdict(info), "none reported")
	info.AtomicUnitMaxOpt = 16 << 10
	require.Contains(t, hardwareVerdict(info), "up to 16384 bytes")
	info.Mode, info.AtomicUnitMaxOpt, info.AtomicUnitMax = blockdev.ModeBlock, 0, 64<<10
	require.Contains(t, hardwareVerdict(info), "up to 65536 bytes")
	require.Contains(t, hardwareVerdict(blockdev.AtomicInfo{AtomicReported: true}), "none:")
}

func TestProbeBadPath(t *testing.T) {
	err := probe(&bytes.Buffer{}, filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "no such file or directory")
}

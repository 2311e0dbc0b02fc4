package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/internal/xfstest"
)

func TestProbeTempDir(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, probe(&out, dir))
	require.Contains(t, out.String(), "RWF_ATOMIC write:")
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
}

func TestProbeBadPath(t *testing.T) {
	err := probe(&bytes.Buffer{}, filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "no such file or directory")
}

//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestProgressRecord: a record reads back as written; a changed byte, a
// cut record, another version or no file is errProgress; writeRecord
// replaces the old record and leaves no temporary file.
func TestProgressRecord(t *testing.T) {
	r := progressRecord{Source: stamp{Dev: 2049, Ino: 77, Length: 1 << 41, Mtime: 1700000000123456789, Ctime: 1700000000987654321, Roots: 0xdeadbeef, FileSize: 12345},
		Temp: fileID{Dev: 2049, Ino: 78}, Done: 1 << 30}
	b := r.encode()
	got, err := decodeRecord(b)
	require.NoError(t, err)
	require.Equal(t, r, got)
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		_, err := decodeRecord(c)
		require.ErrorIs(t, err, errProgress, "byte %d changed", i)
	}
	for n := range len(b) {
		_, err := decodeRecord(b[:n])
		require.ErrorIs(t, err, errProgress, "cut at %d", n)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "rec")
	_, err = readRecord(path)
	require.ErrorIs(t, err, errProgress)
	d, err := blockdev.OpenDir(dir)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, writeRecord(d, path, r))
	r.Done = 5
	require.NoError(t, writeRecord(d, path, r))
	got, err = readRecord(path)
	require.NoError(t, err)
	require.Equal(t, r, got)
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, names, 1)
}

package atomicio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// createOpts is what the creation tests open with: small, preallocated, a
// COW container (create_journal_test.go creates files in journal mode).
var createOpts = Options{Size: 4 << 20, CacheSize: 8 << 20, Preallocate: true, Mode: ModeCOW}

// createSteps are the steps of creating a new path, in order.
var createSteps = []string{"create-temp", "preallocate", "format", "sync-file", "new-file", "publish", "sync-dir"}

var errStepInjected = errors.New("injected at a creation step")

// setCreateHook installs fn as createHook for the test.
func setCreateHook(t *testing.T, fn func(step string) error) {
	t.Helper()
	createHook = fn
	t.Cleanup(func() { createHook = nil })
}

// openFailingAt opens path with opts, failing its creation at step at:
// the step must be reached, Open must return its error, and no temporary
// file may be left beside path.
func openFailingAt(t *testing.T, path, at string, opts Options) {
	t.Helper()
	reached := false
	setCreateHook(t, func(s string) error {
		if s == at {
			reached = true
			return errStepInjected
		}
		return nil
	})
	_, err := Open(path, opts)
	require.True(t, reached, "step %s was not reached", at)
	require.ErrorIs(t, err, errStepInjected)
	createHook = nil
	require.Empty(t, tempFiles(t, filepath.Dir(path)))
}

// tempFiles lists the temporary files of Open in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if _, ok := tempBase(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	return names
}

// requireContainer checks that path is a complete COW container, without
// going through Open (which would create one if it were missing).
func requireContainer(t *testing.T, path string) {
	t.Helper()
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{})
	require.NoError(t, err)
	c, err := cow.Open(dev, cow.Options{})
	if err != nil {
		_ = dev.Close()
	}
	require.NoError(t, err, "%s is not a COW container", path)
	require.NoError(t, c.Close())
}

func requireMissing(t *testing.T, path string) {
	t.Helper()
	_, err := os.Lstat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "%s exists", path)
}

// marker is a small record a test writes at offset 0 of a data file.
func marker(s string) []byte {
	p := make([]byte, 32)
	copy(p, s)
	return p
}

func writeMarker(t *testing.T, f *File, s string) {
	t.Helper()
	_, err := WriteAt(f, marker(s), 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
}

func readMarker(t *testing.T, f *File) string {
	t.Helper()
	p := make([]byte, 32)
	_, err := f.ReadAt(p, 0)
	require.NoError(t, err)
	return string(bytes.TrimRight(p, "\x00"))
}

// requireUsable opens path, checks it is a COW container holding want at
// offset 0, writes next, syncs and closes.
func requireUsable(t *testing.T, path, want, next string) {
	t.Helper()
	f, err := Open(path, createOpts)
	require.NoError(t, err)
	require.Equal(t, ModeCOW, f.Mode())
	require.Equal(t, want, readMarker(t, f))
	writeMarker(t, f, next)
	require.NoError(t, f.Close())
	f, err = Open(path, createOpts)
	require.NoError(t, err)
	require.Equal(t, next, readMarker(t, f))
	require.NoError(t, f.Close())
}

// requireContainerLocked checks that path is there and locked (the File
// being created holds it).
func requireContainerLocked(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NotZero(t, st.Size())
	_, err = blockdev.OpenFile(path, blockdev.FileOptions{})
	require.ErrorIs(t, err, ErrLocked)
}

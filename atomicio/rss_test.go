package atomicio

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// procStatus reads one "Name:   123 kB" field of /proc/self/status in
// bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			require.NoError(t, err)
			return n << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestRSSOf200FilesOnACache: 200 COW files of 16 MiB (real files, in a
// temporary directory) open on one 64 MiB Cache, each written, then read
// and written at random and synced through the Cache: the process's peak
// RSS grows by at most the Cache's size plus 10%. The Files' own memory
// (indexes, container maps, buffers: some 100 KiB each here) is reserved
// in the Cache, so the page cache gets what they leave. It measures the
// RSS, which the race detector inflates: run it without -race (.ci/run
// does).
func TestRSSOf200FilesOnACache(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector inflates the RSS; run without -race: go test ./atomicio -run RSS")
	}
	const files, size, cacheSize = 200, 16 << 20, 64 << 20
	dir := t.TempDir()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := procStatus(t, "VmRSS")

	c := NewCache(cacheSize)
	fs := make([]*File, files)
	page := make([]byte, 8192)
	for i := range fs {
		f, err := Open(filepath.Join(dir, fmt.Sprint(i)), Options{Cache: c, Size: size})
		require.NoError(t, err)
		fs[i] = f
		for j := range 64 {
			page[0] = byte(j)
			_, err := WriteAt(f, page, int64(j*37%(size/8192))*8192)
			require.NoError(t, err)
		}
	}
	require.NoError(t, c.Sync())
	t.Logf("after the opens: RSS +%.1f MiB, peak +%.1f MiB", float64(procStatus(t, "VmRSS")-base)/(1<<20), float64(procStatus(t, "VmHWM")-base)/(1<<20))
	buf := make([]byte, 8192)
	for r := range 10000 {
		f := fs[r*7919%files]
		off := int64(r*104729%(size/8192)) * 8192
		if r%3 == 0 {
			_, err := f.ReadAt(buf, off)
			require.NoError(t, err)
		} else {
			page[0] = byte(r)
			_, err := WriteAt(f, page, off)
			require.NoError(t, err)
		}
		if r%2000 == 1999 {
			require.NoError(t, c.Sync())
		}
	}
	require.NoError(t, c.Sync())
	peak := procStatus(t, "VmHWM") - base
	s := c.Stats()
	t.Logf("peak RSS growth %.1f MiB with %d files on a %d MiB Cache (bound %.1f MiB); the pages got %.1f MiB of it",
		float64(peak)/(1<<20), files, cacheSize>>20, 1.1*cacheSize/(1<<20), float64(s.CacheBudget)/(1<<20))
	for _, f := range fs {
		require.NoError(t, f.Close())
	}
	require.LessOrEqual(t, float64(peak), 1.1*cacheSize)
}

//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
)

// TestCheckCOW: a clean container checks clean; with two damaged data
// blocks check exits 1 and names both (it goes on past the first), and
// writes nothing. Off a terminal it prints no bar, only a final line.
func TestCheckCOW(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	makeFile(t, path, atomicio.ModeCOW, 16)
	code, out, errOut := runVerb(t, "check", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "container clean")
	require.NotContains(t, errOut, "\r", "a bar off a terminal")
	require.Regexp(t, `^check .*c\.db: 1\.0 MiB in \d+\.\ds \(.*/s\)\n$`, errOut)

	// Pages 0 and 3 sit at aligned offsets; damage a block of each.
	a, b := findBlock(t, path, marker(0, 0, 1)), findBlock(t, path, marker(3, 0, 2))
	flipBits(t, path, a, 500)
	flipBits(t, path, b, 9000, 9001)
	agedTimes(t, path)
	before := stateOf(t, path)
	code, out, errOut = runVerb(t, "check", path, nil)
	require.Equal(t, 1, code)
	require.Equal(t, 2, strings.Count(out, "damaged: "), "both blocks are reported")
	require.Contains(t, out, fmt.Sprintf("data block at byte %d ", pageOff(0)+4096))
	require.Contains(t, out, fmt.Sprintf("data block at byte %d ", pageOff(3)+2*4096))
	require.Contains(t, errOut, "2 damaged blocks of 261")
	require.Equal(t, before, stateOf(t, path), "check wrote to the container")
}

// TestCheckJournal: check verifies every record of a journal left by a
// crash, and writes nothing. A record that fails its checksum while a
// later one proves it durable is damage (exit 1, ErrCorrupt); one flipped
// bit, which recovery corrects, is damage too; the same damage in the
// last record is the torn tail of a crash (exit 0, one record less).
func TestCheckJournal(t *testing.T) {
	// Not parallel: it forks (see runChild).
	for _, tc := range []struct {
		name string
		page int   // whose block 0 is damaged: 3 is in the first record, 12 in the last
		bits []int // flipped
		code int
		want string
	}{
		{"clean", -1, nil, 0, "journal clean: 4 records"},
		{"durable-record", 3, []int{100, 3000}, 1, "fails its checksum, but record"},
		{"one-bit", 3, []int{100}, 1, "have one flipped bit"},
		{"torn-tail", 12, []int{100, 3000}, 0, "journal clean: 3 records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.db")
			crashFile(t, path, atomicio.ModeJournal, 16, 0, 4)
			jpath := atomicio.JournalPath(path)
			if tc.page >= 0 {
				flipBits(t, jpath, findBlock(t, jpath, marker(tc.page, 0, 0)), tc.bits...)
			}
			agedTimes(t, path, jpath)
			before := []fileState{stateOf(t, path), stateOf(t, jpath)}
			code, out, errOut := runVerb(t, "check", path, nil)
			require.Equal(t, tc.code, code)
			require.Contains(t, out+errOut, tc.want)
			require.NotContains(t, errOut, "\r")
			require.Equal(t, before, []fileState{stateOf(t, path), stateOf(t, jpath)}, "check wrote")
		})
	}
}

// TestCheckPlain: a plain file has no checksums: check says so, exit 0.
func TestCheckPlain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "p")
	require.NoError(t, os.WriteFile(path, []byte("data"), 0o644))
	code, out, _ := runVerb(t, "check", path, nil)
	require.Equal(t, 0, code)
	require.Contains(t, out, "it has no checksums")
}

//go:build linux

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestMeterTerminal: on a terminal the bar redraws one line in place
// (carriage return, percent, bytes, rate) at most every 200 ms, and the
// final line replaces it and ends with a newline.
func TestMeterTerminal(t *testing.T) {
	var w bytes.Buffer
	c := &fakeClock{t: time.Unix(1000, 0)}
	m := newMeter(&w, true, "check x", c.now)
	draws := 0
	for i, step := range []time.Duration{0, 50, 100, 199, 200, 250, 399, 400, 1000} {
		c.t = time.Unix(1000, 0).Add(step * time.Millisecond)
		m.update(int64(i+1)<<20, 10<<20)
		if n := strings.Count(w.String(), "\r"); n > draws {
			draws = n
			t.Logf("drew at %v: %q", step, w.String()[strings.LastIndex(w.String(), "\r"):])
		}
	}
	// Draws at 0, 200 (200 after 0), 400, 1000: not at 50, 100, 199, 250, 399.
	require.Equal(t, 4, strings.Count(w.String(), "\r"))
	require.Contains(t, w.String(), "\rcheck x  10.0%  1.0 MiB / 10.0 MiB")
	require.Contains(t, w.String(), "\rcheck x  90.0%  9.0 MiB / 10.0 MiB  9.0 MiB/s")
	m.finish()
	last := w.String()[strings.LastIndex(w.String(), "\r")+1:]
	require.True(t, strings.HasPrefix(last, "check x: 9.0 MiB in 1.0s (9.0 MiB/s)"), "%q", last)
	require.True(t, strings.HasSuffix(last, "\n"))
	// The final line blanks what is left of the longer bar.
	require.GreaterOrEqual(t, len(last)-1, len("check x  90.0%  9.0 MiB / 10.0 MiB  9.0 MiB/s"))
}

// TestMeterNotTerminal: off a terminal nothing is drawn while the work
// goes on, and the end prints one line.
func TestMeterNotTerminal(t *testing.T) {
	var w bytes.Buffer
	c := &fakeClock{t: time.Unix(1000, 0)}
	m := newMeter(&w, false, "convert x", c.now)
	for i := range 10 {
		c.t = c.t.Add(time.Second)
		m.update(int64(i+1)<<20, 10<<20)
	}
	require.Zero(t, w.Len())
	m.finish()
	require.Equal(t, "convert x: 10.0 MiB in 10.0s (1.0 MiB/s)\n", w.String())
}

// TestIsTerminal: a pipe and a regular file are no terminal.
func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	require.False(t, isTerminal(w))
	f, err := os.CreateTemp(t.TempDir(), "f")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, isTerminal(f))
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 1 << 20: "1.0 MiB", 5 << 30: "5.0 GiB"} {
		require.Equal(t, want, human(n))
	}
	require.Equal(t, "1 record", count(1, "record"))
	require.Equal(t, "0 blocks", count(0, "block"))
}

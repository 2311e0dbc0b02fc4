package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// redrawEvery is how often the bar is redrawn at most (about 5 times a
// second).
const redrawEvery = 200 * time.Millisecond

// meter shows the progress of a long pass over a file on stderr. On a
// terminal it redraws one line in place (percent, bytes, rate) at most
// every redrawEvery, and replaces it with a final line at the end. Off a
// terminal (a pipe, a log file) it draws no bar and prints only the final
// line. Its methods are called from one goroutine.
type meter struct {
	w     io.Writer
	tty   bool
	label string
	now   func() time.Time

	start, last time.Time
	done, total int64
	width       int // of the last line drawn, to blank it
}

func newMeter(w io.Writer, tty bool, label string, now func() time.Time) *meter {
	t := now()
	return &meter{w: w, tty: tty, label: label, now: now, start: t}
}

// update records progress; on a terminal it redraws when the last draw is
// old enough.
func (m *meter) update(done, total int64) {
	m.done, m.total = done, total
	if !m.tty {
		return
	}
	t := m.now()
	if !m.last.IsZero() && t.Sub(m.last) < redrawEvery {
		return
	}
	m.last = t
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	line := fmt.Sprintf("%s %5.1f%%  %s / %s  %s", m.label, pct, human(done), human(total), m.rate(t))
	m.draw(line)
}

// finish ends the bar: the final line says how much was done and how
// fast, on a terminal over the bar.
func (m *meter) finish() {
	t := m.now()
	line := fmt.Sprintf("%s: %s in %.1fs (%s)", m.label, human(m.done), t.Sub(m.start).Seconds(), m.rate(t))
	if m.tty {
		m.draw(line)
		fmt.Fprintln(m.w)
		return
	}
	fmt.Fprintln(m.w, line)
}

func (m *meter) draw(line string) {
	pad := max(0, m.width-len(line))
	fmt.Fprintf(m.w, "\r%s%s", line, strings.Repeat(" ", pad))
	m.width = len(line)
}

func (m *meter) rate(t time.Time) string {
	s := t.Sub(m.start).Seconds()
	if s <= 0 {
		return "- /s"
	}
	return human(int64(float64(m.done)/s)) + "/s"
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return blockdev.IsTerminal(f) }

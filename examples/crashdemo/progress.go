package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a bar in place on a terminal, at most ten times a
// second, and only once the run has taken longer than a second. A nil
// *progress draws nothing.
type progress struct {
	w     io.Writer
	total int
	done  int
	start time.Time
	last  time.Time
	drawn bool
}

const (
	progressDelay = time.Second
	progressEvery = 100 * time.Millisecond
	progressWidth = 30
)

func newProgress(w io.Writer, total int) *progress {
	now := time.Now()
	return &progress{w: w, total: total, start: now, last: now}
}

// step counts one unit of work done and redraws if it is time to.
func (p *progress) step() {
	if p == nil {
		return
	}
	p.done++
	now := time.Now()
	if now.Sub(p.start) < progressDelay || (now.Sub(p.last) < progressEvery && p.done < p.total) {
		return
	}
	p.last, p.drawn = now, true
	filled := progressWidth * p.done / max(1, p.total)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %4.1fs", strings.Repeat("#", filled),
		strings.Repeat(" ", progressWidth-filled), p.done, p.total, now.Sub(p.start).Seconds())
}

// finish erases the bar if one was drawn.
func (p *progress) finish() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", progressWidth+40))
}

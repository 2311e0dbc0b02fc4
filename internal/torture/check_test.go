package torture

import (
	"bytes"
	"testing"
)

// history builds a model of a 64-byte file with a few writes and returns
// it with the image the latest writes leave.
func history() *Model {
	m := NewModel(64)
	for _, w := range []struct {
		off    int64
		n      int
		untorn bool
	}{{0, 32, true}, {16, 32, true}, {50, 8, false}} {
		i, _ := m.Begin(w.off, w.n, w.untorn)
		m.Commit(i)
	}
	return m
}

func wantClass(t *testing.T, err error, c Class) {
	t.Helper()
	if err == nil {
		t.Fatalf("no violation, want %v", c)
	}
	if got := ClassOf(err); got != c {
		t.Fatalf("violation %v, want %v", err, c)
	}
}

// The Checker accepts what the writes can leave and catches each kind of
// violation (its negative controls).
func TestCheckerAcceptsValidImages(t *testing.T) {
	m := history()
	var c Checker
	all := bytes.Clone(m.Current())
	if err := c.Check(m, m.Snapshot(), all); err != nil {
		t.Errorf("the latest content: %v", err)
	}
	if err := c.Check(m, m.Snapshot(), make([]byte, 64)); err != nil {
		t.Errorf("nothing written yet, nothing synced: %v", err)
	}
	// Only the first write survived.
	first := make([]byte, 64)
	copy(first, m.Writes()[0].Data)
	if err := c.Check(m, Snapshot{N: 3, Synced: 1}, first); err != nil {
		t.Errorf("the synced first write alone: %v", err)
	}
}

func TestCheckerCatchesPhantom(t *testing.T) {
	m := history()
	var c Checker
	img := bytes.Clone(m.Current())
	img[62] = 0x5a // never written
	wantClass(t, c.Check(m, m.Snapshot(), img), Phantom)
}

func TestCheckerCatchesLost(t *testing.T) {
	m := history()
	var c Checker
	wantClass(t, c.Check(m, Snapshot{N: 3, Synced: 1}, make([]byte, 64)), Lost)
}

func TestCheckerCatchesTorn(t *testing.T) {
	m := history()
	var c Checker
	// The second untorn write [16, 48) half there: its first half only.
	img := make([]byte, 64)
	copy(img, m.Writes()[0].Data)
	copy(img[16:32], m.Writes()[1].Data[:16])
	wantClass(t, c.Check(m, m.Snapshot(), img), Torn)
	// A plain write may tear.
	img = make([]byte, 64)
	copy(img[50:54], m.Writes()[2].Data[:4])
	if err := c.Check(m, m.Snapshot(), img); err != nil {
		t.Errorf("a torn plain write: %v", err)
	}
}

func TestCheckerIgnoresDroppedWrites(t *testing.T) {
	m := NewModel(16)
	i, p := m.Begin(0, 16, true)
	m.Drop(i)
	var c Checker
	wantClass(t, c.Check(m, m.Snapshot(), bytes.Clone(p)), Phantom)
}

// A model rebased on a reopened image takes that image as its baseline.
func TestCheckerRebased(t *testing.T) {
	old := history()
	base := bytes.Clone(old.Current())
	m := NewModelFrom(base, old.NextID())
	i, p := m.Begin(8, 8, true)
	m.Commit(i)
	var c Checker
	if err := c.Check(m, m.Snapshot(), bytes.Clone(base)); err != nil {
		t.Errorf("the baseline alone: %v", err)
	}
	if err := c.Check(m, m.Snapshot(), bytes.Clone(m.Current())); err != nil {
		t.Errorf("the baseline and the new write: %v", err)
	}
	// Data of the old history where the baseline has other data: phantom.
	img := bytes.Clone(m.Current())
	copy(img[16:32], old.Writes()[0].Data[16:32])
	wantClass(t, c.Check(m, m.Snapshot(), img), Phantom)
	// The new write half there.
	img = bytes.Clone(base)
	copy(img[8:12], p[:4])
	wantClass(t, c.Check(m, m.Snapshot(), img), Torn)
}

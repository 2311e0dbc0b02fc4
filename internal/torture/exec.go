package torture

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/untorn/untorn/atomicio"
)

// executor runs a workload on a File and keeps the Model in step with what
// returned. It notes, per step, how many device writes and flushes had
// happened when the step began and what the model promised during it, so
// that a power cut at any device write can be matched with its promises.
type executor struct {
	f *atomicio.File
	m *Model
	p Profile
	// tolerate says whether an error from the File is an allowed outcome
	// (an injected fault); nil allows none.
	tolerate func(error) bool
	// ops returns the device writes and flushes so far; nil: no marks.
	ops   func() uint64
	base  uint64
	marks []mark
	// tolerated counts the errors tolerate allowed; lastTolerated is the
	// latest of them.
	tolerated     int
	lastTolerated error
}

// mark: from device operation ops on (relative to the executor's base), a
// power cut finds the promises of snap.
type mark struct {
	ops  uint64
	snap Snapshot
}

// allow counts a tolerated error.
func (x *executor) allow(err error) {
	x.tolerated++
	x.lastTolerated = err
}

// run executes the steps in order; it stops at the first error that is not
// tolerated and returns it as a *Violation.
func (x *executor) run(steps []step) error {
	if x.ops != nil {
		x.base = x.ops()
	}
	for i, s := range steps {
		if err := x.do(s); err != nil {
			if v, ok := errors.AsType[*Violation](err); ok {
				v.Detail = "step " + strconv.Itoa(i) + " (" + s.kind.String() + "): " + v.Detail
			}
			return err
		}
	}
	return nil
}

func (x *executor) note(snap Snapshot) {
	if x.ops != nil {
		x.marks = append(x.marks, mark{ops: x.ops() - x.base, snap: snap})
	}
}

func (x *executor) do(s step) error {
	switch s.kind {
	case opUntorn, opPlain:
		return x.write(s.off, s.n, s.kind == opUntorn)
	case opRead:
		return x.read(s.off, s.n)
	default:
		_, err := x.sync()
		return err
	}
}

func (x *executor) write(off int64, n int, untorn bool) error {
	i, p := x.m.Begin(off, n, untorn)
	x.note(x.m.Snapshot()) // in flight: a cut may or may not show it
	var err error
	if untorn {
		_, err = atomicio.WriteAt(x.f, p, off)
	} else {
		_, err = x.f.WriteAt(p, off)
	}
	switch {
	case err == nil:
		x.m.Commit(i)
		return nil
	case untorn && x.p.Mode == atomicio.ModeNative && errors.Is(err, atomicio.ErrTooLarge):
		// Native mode refuses a write whose aligned unit exceeds the
		// device's largest untorn write: nothing was written.
		x.m.Drop(i)
		return nil
	case x.tolerate != nil && x.tolerate(err):
		x.allow(err)
		x.m.Drop(i)
		return nil
	}
	x.m.Drop(i)
	return violation(Unexpected, err, "write [%d, +%d)", off, n)
}

func (x *executor) read(off int64, n int) error {
	x.note(x.m.Snapshot())
	buf := make([]byte, n)
	got, err := x.f.ReadAt(buf, off)
	switch {
	case err != nil && x.tolerate != nil && x.tolerate(err):
		x.allow(err)
		return nil
	case err != nil:
		return violation(Unexpected, err, "read [%d, +%d)", off, n)
	case got != n:
		return violation(WrongRead, nil, "read [%d, +%d) returned %d bytes", off, n, got)
	}
	if i := firstDiff(buf, x.m.Current()[off:off+int64(n)]); i >= 0 {
		return violation(WrongRead, nil, "read [%d, +%d) differs from the latest write at offset %d", off, n, off+int64(i))
	}
	return nil
}

// sync runs a Sync; it reports whether it succeeded, and an error only
// when the failure is not tolerated.
func (x *executor) sync() (bool, error) {
	mark := x.m.SyncStart()
	x.note(x.m.Snapshot())
	err := x.f.Sync()
	switch {
	case err == nil:
		x.m.SyncDone(mark)
		return true, nil
	case x.tolerate != nil && x.tolerate(err):
		x.allow(err)
		return false, nil
	}
	return false, violation(Unexpected, err, "sync")
}

// close closes the File (a final Sync); the File is gone afterwards even
// when Close fails (it is abandoned then).
func (x *executor) close() error {
	mark := x.m.SyncStart()
	x.note(x.m.Snapshot())
	if err := x.f.Close(); err != nil {
		_ = x.f.Abandon()
		return violation(Unexpected, err, "close")
	}
	x.m.SyncDone(mark)
	return nil
}

// snapshotAt returns the promises in force when device operation k
// (relative to the base) was issued, and false if no step issued it.
func (x *executor) snapshotAt(k uint64) (Snapshot, bool) {
	found := false
	var snap Snapshot
	for _, mk := range x.marks {
		if mk.ops > k {
			break
		}
		snap, found = mk.snap, true
	}
	return snap, found
}

// verifyLive reads the whole running File and compares it with the model.
func (x *executor) verifyLive() error {
	img, err := readAll(x.f)
	if err != nil {
		return violation(Unexpected, err, "read the whole file")
	}
	if i := firstDiff(img, x.m.Current()); i >= 0 {
		return violation(WrongRead, nil, "the running file differs from the latest writes at offset %d", i)
	}
	return nil
}

// readAll reads a whole File.
func readAll(f *atomicio.File) ([]byte, error) {
	img := make([]byte, f.Size())
	n, err := f.ReadAt(img, 0)
	if err != nil {
		return nil, err
	}
	if int64(n) != f.Size() {
		return nil, violation(Unexpected, nil, "read %d of %d bytes", n, f.Size())
	}
	return img, nil
}

// firstDiff returns the first index where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

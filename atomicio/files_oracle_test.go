package atomicio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/untorn/untorn/blockdev/journal"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/crashmodel"
	"github.com/untorn/untorn/internal/testsize"
)

// The files-and-batches oracle: a rapid state machine writes past the end,
// truncates, commits batches, syncs, cuts the power and reopens a COW File
// over a blockdev.Mem, and checks every crash image it can take (one at
// every device operation) against a model.
//
// The model is the file as an endless array of zeros with a size. Every
// write and every piece of a batch is stamped with its operation's id
// (crashmodel.Fill), so the ids seen in a recovered image say which
// operations landed. A recovered image must equal the model replayed with
// every operation up to the last completed Sync, every operation whose id
// it shows, and some subset of the others that leave no stamp (size
// changes, writes overwritten since): each operation whole or absent,
// batches across all their ranges, the size consistent with the data.

// fileOp is one operation of the model: a write (one step), a batch (its
// steps, applied in order) or a Truncate (one step without data).
type fileOp struct {
	id    uint64
	steps []fileStep
}

// fileStep is a write of data at off, or (data == nil) a truncate to size.
type fileStep struct {
	off  int64
	data []byte
	size int64
}

// fileImage is the model's file: content (as long as the largest size
// used) and size.
type fileImage struct {
	data []byte
	size int64
}

func (im fileImage) clone() fileImage {
	return fileImage{data: bytes.Clone(im.data), size: im.size}
}

// apply applies o to im in place.
func (im *fileImage) apply(o fileOp) {
	for _, s := range o.steps {
		if s.data == nil {
			if s.size < im.size {
				clear(im.data[s.size:])
			}
			im.size = s.size
			continue
		}
		copy(im.data[s.off:], s.data)
		im.size = max(im.size, s.off+int64(len(s.data)))
	}
}

// fileModel is the history since the last reopen: the image it started
// from, the operations begun since (in order), and how many of them a
// completed Sync made durable.
type fileModel struct {
	base    fileImage
	ops     []fileOp
	durable int // ops[:durable] were made durable by a Sync
	started int // ops[:started] were begun (the last may be in flight)
}

// current returns the image after every operation begun.
func (m *fileModel) current() fileImage {
	im := m.base.clone()
	for _, o := range m.ops[:m.started] {
		im.apply(o)
	}
	return im
}

// idsIn returns the operation ids whose stamps show in data.
func idsIn(data []byte) map[uint64]bool {
	ids := map[uint64]bool{}
	for i := 0; i+8 <= len(data); i += 8 {
		if id := crashmodel.WordID(binary.LittleEndian.Uint64(data[i:])); id != 0 {
			ids[id] = true
		}
	}
	return ids
}

// maxHidden bounds the subsets of stampless operations match tries (2^n).
const maxHidden = 10

// match finds the replay that gives got: it returns an error describing the
// mismatch when none does, and the image it matched otherwise.
func (m *fileModel) match(got fileImage) (fileImage, error) {
	seen := idsIn(got.data[:got.size])
	var hidden []int // operations that may or may not have landed without a visible stamp
	for i := m.durable; i < m.started; i++ {
		if !seen[m.ops[i].id] {
			hidden = append(hidden, i)
		}
	}
	// The whole base array: past its size the model holds zeros, but a
	// stamp cut by a Truncate inside its word keeps its id byte.
	inBase := idsIn(m.base.data)
	for id := range seen {
		if !m.known(id) && !inBase[id] {
			return fileImage{}, fmt.Errorf("the image shows id %d, which no operation begun wrote", id)
		}
	}
	if len(hidden) > maxHidden {
		hidden = hidden[len(hidden)-maxHidden:] // the older ones are assumed landed
	}
	bit := map[int]int{} // operation index -> its bit in the mask
	for b, i := range hidden {
		bit[i] = b
	}
	for mask := 0; mask < 1<<len(hidden); mask++ {
		im := m.base.clone()
		for i, o := range m.ops[:m.started] {
			b, maybe := bit[i]
			if !maybe || mask&(1<<b) == 0 { // mask 0 first: everything landed
				im.apply(o)
			}
		}
		if im.size == got.size && bytes.Equal(im.data[:im.size], got.data[:got.size]) {
			return im, nil
		}
	}
	return fileImage{}, fmt.Errorf("no replay of the %d durable operations, the %d seen and a subset of %d stampless ones gives the image (size %d)",
		m.durable, len(seen), len(hidden), got.size)
}

// known reports whether id is an operation begun.
func (m *fileModel) known(id uint64) bool {
	for _, o := range m.ops[:m.started] {
		if o.id == id {
			return true
		}
	}
	return false
}

// drawer draws the machine's choices: from rapid, or from a seeded
// generator (the negative control).
type drawer interface {
	Int64(lo, hi int64, label string) int64
	Float(label string) float64
}

type rapidDrawer struct{ t *rapid.T }

func (d rapidDrawer) Int64(lo, hi int64, label string) int64 {
	return rapid.Int64Range(lo, hi).Draw(d.t, label)
}
func (d rapidDrawer) Float(label string) float64 { return rapid.Float64Range(0, 1).Draw(d.t, label) }

type randDrawer struct{ rng *rand.Rand }

func (d randDrawer) Int64(lo, hi int64, _ string) int64 { return lo + d.rng.Int64N(hi-lo+1) }
func (d randDrawer) Float(string) float64               { return d.rng.Float64() }

// filesRig is the device stack of one history.
type filesRig struct {
	t       require.TestingT
	m       machine // one Mem, or two in journal mode
	f       *File
	opts    Options
	model   fileModel
	nextID  uint64
	checks  *int
	through *int  // batches written through (too large for the cache)
	limit   int64 // offsets and sizes stay below it
	images  int   // crash images taken at each crash point
	// pointMu serialises crashPoint (the device is used concurrently, a
	// background pass runs on its own goroutine) and guards checkAt,
	// failure and the model's changes; the machine's own goroutine reads
	// the model without it.
	pointMu sync.Mutex
	checkAt bool
	failure error
}

const filesDevSize = 2 << 20

func (r *filesRig) open(m machine) {
	r.m = m
	var err error
	r.f, _, err = m.open(r.opts, blockdev.InjectorFunc(r.crashPoint))
	require.NoError(r.t, err)
}

// crashPoint takes r.images crash images before every device write,
// discard and flush (reads change nothing a crash could show) and checks
// them: the volatile writes survive with a chance that rotates through 0,
// 1/2 and 1.
func (r *filesRig) crashPoint(op blockdev.Op) error {
	if op.Kind == blockdev.OpRead {
		return nil
	}
	r.pointMu.Lock() // the device is used concurrently
	defer r.pointMu.Unlock()
	if !r.checkAt || r.failure != nil {
		return nil
	}
	for range r.images {
		*r.checks++
		survive := float64(*r.checks%3) / 2
		if err := r.checkImage(r.m.cut(blockdev.CrashConfig{Seed: uint64(*r.checks), Survive: survive})); err != nil {
			r.failure = err
			return nil
		}
	}
	return nil
}

// setCheckAt turns the crash images at device operations on or off.
func (r *filesRig) setCheckAt(on bool) {
	r.pointMu.Lock()
	defer r.pointMu.Unlock()
	r.checkAt = on
}

// recover opens a crash image and reads the file it holds.
func (r *filesRig) recover(img machine) (*File, fileImage, error) {
	g, _, err := img.open(r.opts, nil)
	if err != nil {
		return nil, fileImage{}, fmt.Errorf("open crash image: %w", err)
	}
	got := fileImage{data: make([]byte, r.limit), size: g.Size()}
	if got.size > r.limit {
		_ = g.Abandon()
		return nil, fileImage{}, fmt.Errorf("crash image has size %d, past every size used (%d)", got.size, r.limit)
	}
	if _, err := g.ReadAt(got.data[:got.size], 0); err != nil && err != io.EOF {
		_ = g.Abandon()
		return nil, fileImage{}, fmt.Errorf("read crash image: %w", err)
	}
	return g, got, nil
}

// checkImage recovers a crash image with the container or the journal
// alone (what OpenDevice or OpenDeviceWithJournal does first, without the
// cost of a File's cache) and matches the file it holds.
func (r *filesRig) checkImage(img machine) error {
	var c blockdev.SizedDevice
	var err error
	if len(img) == 1 {
		c, err = cow.Open(img[0], cow.Options{})
	} else {
		c, err = journal.Open(img[0], img[1], journal.Options{NoBackground: true})
	}
	if err != nil {
		return fmt.Errorf("open crash image: %w", err)
	}
	defer func() { _ = c.Close() }()
	got := fileImage{data: make([]byte, r.limit), size: c.FileSize()}
	if got.size > r.limit {
		return fmt.Errorf("crash image has size %d, past every size used (%d)", got.size, r.limit)
	}
	buf := blockdev.AlignedBuffer(int(ceilTo(got.size, 4096)), c.Limits().MemAlign)
	if _, err := c.ReadAt(buf, 0); err != nil {
		return fmt.Errorf("read crash image: %w", err)
	}
	copy(got.data, buf[:got.size])
	_, err = r.model.match(got)
	return err
}

// run applies o to the File through do, keeping the model's progress.
func (r *filesRig) run(o fileOp, do func() error) {
	r.pointMu.Lock() // a background pass may take a crash image meanwhile
	r.model.ops = append(r.model.ops, o)
	r.model.started++
	r.pointMu.Unlock()
	err := do()
	require.NoError(r.t, err)
	require.NoError(r.t, r.failed())
}

// failed returns the first failure a crash image showed.
func (r *filesRig) failed() error {
	r.pointMu.Lock()
	defer r.pointMu.Unlock()
	return r.failure
}

func (r *filesRig) stamp(off int64, n int, id uint64) []byte {
	p := make([]byte, n)
	crashmodel.Fill(p, id, off)
	return p
}

// genStep draws a write (or a truncate); a big one (in a batch) is 96 to
// 128 KiB.
func (r *filesRig) genStep(d drawer, id uint64, write, big bool) fileStep {
	if write {
		least, most := int64(1), int64(3<<10)
		if big {
			least, most = 12<<10, 16<<10
		}
		n := d.Int64(least, most, "words") * 8 // stamps are words
		off := d.Int64(0, (r.limit-n)/8, "word") * 8
		return fileStep{off: off, data: r.stamp(off, int(n), id)}
	}
	return fileStep{size: d.Int64(0, r.limit, "size")}
}

func (r *filesRig) write(d drawer) {
	r.nextID++
	s := r.genStep(d, r.nextID, true, false)
	r.run(fileOp{id: r.nextID, steps: []fileStep{s}}, func() error {
		_, err := WriteAt(r.f, s.data, s.off)
		return err
	})
}

func (r *filesRig) truncate(d drawer) {
	r.nextID++
	s := r.genStep(d, r.nextID, false, false)
	r.run(fileOp{id: r.nextID, steps: []fileStep{s}}, func() error { return r.f.Truncate(s.size) })
}

func (r *filesRig) batch(d drawer) {
	r.nextID++
	o := fileOp{id: r.nextID}
	if d.Int64(0, 4, "large") == 0 {
		// Three big writes: more than half the cache (filesOptions), so
		// Commit writes the batch through.
		for range 3 {
			o.steps = append(o.steps, r.genStep(d, r.nextID, true, true))
		}
	}
	for i := range d.Int64(1, 5, "steps") {
		o.steps = append(o.steps, r.genStep(d, r.nextID, i == 0 || d.Int64(0, 3, "kind") > 0, false))
	}
	r.commit(o)
}

// throughBatch commits a batch over the whole range the machine uses, in
// three writes: more than MaxBatch, so Commit must write it through.
func (r *filesRig) throughBatch() {
	require.Greater(r.t, r.limit, r.f.MaxBatch(), "the range must be larger than a cached batch")
	r.nextID++
	o := fileOp{id: r.nextID}
	third := r.limit / 3 / 8 * 8
	for i, off := range []int64{0, third, 2 * third} {
		end := off + third
		if i == 2 {
			end = r.limit
		}
		o.steps = append(o.steps, fileStep{off: off, data: r.stamp(off, int(end-off), r.nextID)})
	}
	r.commit(o)
}

// commit commits the batch o through a Batch of the File.
func (r *filesRig) commit(o fileOp) {
	r.run(o, func() error {
		b := r.f.NewBatch()
		for _, s := range o.steps {
			if s.data == nil {
				if err := b.Truncate(s.size); err != nil {
					return err
				}
				continue
			}
			if _, err := b.WriteAt(s.data, s.off); err != nil {
				return err
			}
		}
		before := r.f.Stats().Writeback.ThroughCommits
		err := b.Commit()
		if r.through != nil {
			*r.through += int(r.f.Stats().Writeback.ThroughCommits - before)
		}
		return err
	})
}

func (r *filesRig) sync(drawer) {
	started := r.model.started
	require.NoError(r.t, r.f.Sync())
	require.NoError(r.t, r.failed())
	r.pointMu.Lock()
	r.model.durable = started
	r.pointMu.Unlock()
}

// crash cuts the power now, opens the image and goes on with it.
func (r *filesRig) crash(d drawer) {
	img := r.m.cut(blockdev.CrashConfig{Seed: uint64(r.nextID), Survive: d.Float("survive")})
	filesInPlace.Add(r.f.Stats().Journal.InPlaceWrites)
	_ = r.f.Abandon() // no pass runs from here on
	r.setCheckAt(false)
	g, got, err := r.recover(img.cut(blockdev.CrashConfig{Survive: 1})) // img goes on below
	require.NoError(r.t, err)
	_ = g.Abandon()
	r.pointMu.Lock()
	*r.checks++
	r.pointMu.Unlock()
	matched, err := r.model.match(got)
	require.NoError(r.t, err, "after the crash")
	r.model = fileModel{base: matched}
	r.open(img)
	r.setCheckAt(true)
}

// check compares the File with the model: read-your-writes and the size.
func (r *filesRig) check(drawer) {
	want := r.model.current()
	require.Equal(r.t, want.size, r.f.Size())
	got := make([]byte, want.size+1)
	n, err := r.f.ReadAt(got, 0)
	require.ErrorIs(r.t, err, io.EOF)
	require.EqualValues(r.t, want.size, n)
	require.True(r.t, bytes.Equal(want.data[:want.size], got[:n]), "the File reads what the model says")
}

// newFilesRig opens a File over a new Mem, empty, with opts; in journal
// mode (opts.Mode) over two, the second for the journal. With
// opts.Portable the Mems have the portable File's limits.
func newFilesRig(t require.TestingT, opts Options, checks *int) *filesRig {
	var jsize int64
	limits := blockdev.LimitsNone
	switch {
	case opts.Mode == ModeJournal:
		jsize = opts.JournalSize + 2*4096
	case opts.JournalSize > 0: // the hybrid: ModeAuto over NVMe-like devices
		jsize = opts.JournalSize + 2*4096
		limits = blockdev.LimitsNVMe
	}
	if opts.Portable {
		limits = blockdev.LimitsPortable // the portable File's, on a Mem
	}
	m, err := makeMachine(filesDevSize, jsize, limits)
	require.NoError(t, err)
	r := &filesRig{t: t, opts: opts, checks: checks, limit: 256 << 10, images: 2}
	r.open(m)
	require.NoError(t, r.f.Truncate(0)) // OpenDevice starts as large as the device
	require.NoError(t, r.f.Sync())
	r.pointMu.Lock()
	r.model = fileModel{base: fileImage{data: make([]byte, r.limit)}}
	r.checkAt = true
	r.pointMu.Unlock()
	return r
}

// actions are the machine's actions, by name.
func (r *filesRig) actions() map[string]func(drawer) {
	return map[string]func(drawer){
		"write": r.write, "truncate": r.truncate, "batch": r.batch, "sync": r.sync, "crash": r.crash,
	}
}

// runFilesMachine runs one rapid history with opts and returns the crash
// images it checked and the batches it wrote through. Every history ends
// with a batch that must be written through (larger than MaxBatch), then a
// power cut: each case checks write-through, whatever rapid drew. At every
// crash point it checks one image by default, two with UNTORN_LONG=1.
func runFilesMachine(t *rapid.T, opts Options) (checks, through int) {
	r := newFilesRig(t, opts, &checks)
	r.images = testsize.Pick(1, 2) // of the rapid history; the negative control keeps 2
	r.through = &through
	defer func() { _ = r.f.Abandon() }()
	acts := map[string]func(*rapid.T){"": func(t *rapid.T) { r.check(rapidDrawer{t}) }}
	for name, act := range r.actions() {
		acts[name] = func(t *rapid.T) { act(rapidDrawer{t}) }
	}
	t.Repeat(acts)
	before := through
	r.throughBatch()
	require.Equal(t, before+1, through, "a batch larger than the cache takes is written through")
	d := rapidDrawer{t}
	r.check(d)
	r.crash(d)
	filesInPlace.Add(r.f.Stats().Journal.InPlaceWrites)
	_ = r.f.Abandon() // stops the background passes that take crash images
	r.pointMu.Lock()
	defer r.pointMu.Unlock()
	require.Positive(t, checks, "crash images checked")
	return checks, through
}

// recordT is a require.TestingT that records the first failure and stops
// the history (FailNow panics with errStopHistory).
type recordT struct{ err error }

var errStopHistory = fmt.Errorf("history stopped")

func (r *recordT) Errorf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}
func (r *recordT) FailNow() { panic(errStopHistory) }

// runRandomFiles runs one seeded history of steps actions with opts,
// taking images crash images at every crash point, and returns its first
// failure.
func runRandomFiles(opts Options, seed uint64, steps, images int) (err error) {
	rt := &recordT{}
	defer func() {
		if p := recover(); p != nil && p != errStopHistory {
			panic(p)
		}
		err = rt.err
	}()
	checks := 0
	r := newFilesRig(rt, opts, &checks)
	r.images = images
	defer func() { _ = r.f.Abandon() }()
	d := randDrawer{rand.New(rand.NewPCG(seed, 11))}
	names := []string{"write", "write", "batch", "batch", "truncate", "sync", "crash"}
	acts := r.actions()
	for range steps {
		acts[names[d.rng.IntN(len(names))]](d)
		r.check(d)
	}
	return nil
}

// filesOptions: a small cache and no background writeback, so that data
// stays dirty between Syncs and the passes are the ones the machine asks
// for (and those memory pressure forces); batches larger than half the
// cache are written through at Commit.
var filesOptions = Options{CacheSize: 512 << 10, MaxAtomic: 64 << 10, FlushInterval: -1}

// filesJournalOptions: the same in journal mode, with a journal that holds
// the largest batch written through (the range a history uses) and wraps
// and fills within a history.
var filesJournalOptions = func() Options {
	o := filesOptions
	o.Mode, o.JournalSize = ModeJournal, 768<<10
	return o
}()

// filesPortableOptions: journal mode over Mems with the portable File's
// limits (what macOS and Windows run).
var filesPortableOptions = func() Options {
	o := filesJournalOptions
	o.Portable = true
	return o
}()

// filesInPlace counts the units the files oracle's Files wrote in place
// (only the hybrid does).
var filesInPlace atomic.Int64

// filesHybridOptions: journal mode under ModeAuto over NVMe-like devices
// (16 KiB hardware atomic writes): units whose aligned cover fits go home
// in place, the rest (batches and size changes among them) through the
// journal.
var filesHybridOptions = func() Options {
	o := filesJournalOptions
	o.Mode = ModeAuto
	return o
}()

// TestFilesAndBatchesOracle runs the state machine and reports how many
// crash images it checked.
func TestFilesAndBatchesOracle(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		opts Options
	}{{"cow", filesOptions}, {"journal", filesJournalOptions}, {"hybrid", filesHybridOptions}} {
		if mode.name == "hybrid" && !testsize.Long() {
			continue // by default the hybrid runs the fixed histories of TestFilesOracleCatchesSplitBatches
		}
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			total, through := 0, 0
			rapid.Check(t, func(t *rapid.T) {
				c, b := runFilesMachine(t, mode.opts)
				total, through = total+c, through+b
			})
			t.Logf("crash images checked: %d; batches written through: %d", total, through)
			if mode.name == "hybrid" {
				// Few: most pages it writes have an image in the journal
				// (no checkpoint runs between Syncs) or lie past the size.
				t.Logf("units in place: %d", filesInPlace.Load())
			}
		})
	}
}

// TestFilesOraclePortable runs seeded histories of the state machine in
// journal mode over Mems with the portable File's limits (what macOS and
// Windows run): few and short in the default run, as the rapid histories
// of the other modes cover the engine; UNTORN_LONG=1 runs more.
func TestFilesOraclePortable(t *testing.T) {
	t.Parallel()
	for seed := range uint64(testsize.Pick(3, 24)) {
		require.NoError(t, runRandomFiles(filesPortableOptions, seed, 24, testsize.Pick(1, 2)), "seed %d", seed)
	}
}

// TestFilesOracleCatchesSplitBatches is the negative control: an engine
// that commits the pieces of a batch in separate transactions must be
// caught (a crash between them shows part of a batch), on the same
// histories the honest engine passes.
//
// The histories are fixed (seeded) and every device operation is a crash
// point, so which of them catch it does not depend on timing: of seeds 0
// to 11 all but seed 11 do. Each is 24 actions long; the count of them is
// sized by testsize (seeds 0 and 1 by default, both of which catch it).
// The broken engine's histories take two crash images at every crash
// point, the honest engine's one by default (two with UNTORN_LONG=1). It
// runs in COW mode, journal mode and the hybrid (journal mode under
// ModeAuto over NVMe-like devices, whose rapid histories in
// TestFilesAndBatchesOracle run with UNTORN_LONG=1 only).
func TestFilesOracleCatchesSplitBatches(t *testing.T) {
	t.Parallel()
	histories := testsize.Pick(2, 16)
	for _, v := range []struct {
		name   string
		honest Options
	}{{"cow", filesOptions}, {"journal", filesJournalOptions}, {"hybrid", filesHybridOptions}} {
		broken := v.honest
		broken.splitBatches = true
		caught := 0
		for seed := range uint64(histories) {
			require.NoError(t, runRandomFiles(v.honest, seed, 24, testsize.Pick(1, 2)), "the honest engine must pass (%s, seed %d)", v.name, seed)
			if err := runRandomFiles(broken, seed, 24, 2); err != nil {
				caught++
			}
		}
		t.Logf("%s: split-batch engine caught in %d of %d histories", v.name, caught, histories)
		require.GreaterOrEqual(t, caught, histories/2, "the oracle must catch an engine that splits batches (%s)", v.name)
	}
}

package cow

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// newSmallFile returns a Mem that behaves like a new, empty regular file
// with room for the small layout: a container formatted on it grows it
// (see filesize.go).
func newSmallFile(t require.TestingT) *blockdev.Mem {
	limit, err := RequiredSize(crashLimits.BlockSize, smallOptions)
	require.NoError(t, err)
	mem, err := blockdev.NewMemFile(0, limit, crashLimits)
	require.NoError(t, err)
	return mem
}

// TestFileFollowsUse: over a file (a Mem made by NewMemFile) that starts
// empty, the container's file holds the superblocks and the two roots'
// checkpoints after Format, grows segment by segment as the log takes
// them (one Resize per segment, not per commit), is always as long as the
// highest segment in use and no longer after a checkpoint, shrinks when
// the segments at the top are freed, and reopens.
func TestFileFollowsUse(t *testing.T) {
	opts := Options{LogicalSize: 64 << 20, SegmentSize: 256 << 10, MaxBatch: 1 << 20, AtomicMax: 256 << 10}
	limit, err := RequiredSize(4096, opts)
	require.NoError(t, err)
	mem, err := blockdev.NewMemFile(0, limit, blockdev.LimitsNone)
	require.NoError(t, err)
	d, err := Format(mem, opts)
	require.NoError(t, err)
	checkOnCleanup(t, d)
	g := d.g
	bs := g.bs
	require.True(t, d.grows)
	require.Equal(t, (g.ckptSlot(1)+1)*bs, mem.Size(), "a new container: superblocks and the roots' checkpoints, no segment")
	require.Equal(t, mem.Size(), d.Stats().InnerBytes)

	// atEnd: the file reaches exactly the highest segment the container
	// keeps, as after a checkpoint.
	atEnd := func(when string) {
		d.mu.Lock()
		defer d.mu.Unlock()
		require.Equal(t, d.keepEndLocked()*bs, mem.Size(), when)
		require.NoError(t, d.checkFileLocked(), when)
	}
	checkpoint := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		require.NoError(t, d.checkpointLocked(false))
	}

	const data = 4 << 20
	buf := make([]byte, 1<<20)
	for off := int64(0); off < data; off += int64(len(buf)) {
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: buf}}, 0))
	}
	st := d.Stats()
	require.Equal(t, g.segStart(int64(st.Segments))*bs, mem.Size(), "the file ends with the head segment")
	require.Equal(t, int64(st.Segments), st.Resizes-2, "one Resize per segment (and two for the roots)")

	rng := rand.New(rand.NewPCG(5, 5))
	page := make([]byte, 16<<10)
	commits := 0
	most := mem.Size()
	for range 4 * data / len(page) {
		off := rng.Int64N(data/int64(len(page))) * int64(len(page))
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: off, Data: page}}, 0))
		commits++
		most = max(most, mem.Size())
		require.NoError(t, d.checkInvariants())
	}
	st = d.Stats()
	t.Logf("4 MiB in a 64 MiB container, 16 MiB of overwrites in %d commits: file %d KiB (at most %d KiB, layout %d KiB), %d segments (%d free), %d resizes, live %d KiB",
		commits, mem.Size()>>10, most>>10, limit>>10, st.Segments, st.FreeSegments, st.Resizes, st.LiveBytes>>10)
	require.Less(t, st.Resizes, int64(commits/8), "resizes come with segments, not commits")
	require.Less(t, most, g.dataStart()*bs+int64(3*data), "the file follows the data, not the capacity")
	checkpoint()
	atEnd("after a checkpoint")

	// Cut the file to nothing: once the log head has come down to the
	// lowest segments, the file ends there.
	require.NoError(t, d.CommitSized(nil, 0, 0, 0))
	before := mem.Size()
	for i := 0; d.Stats().Segments > 2 && i < 64; i++ {
		require.NoError(t, d.CommitBatch([]blockdev.Piece{{Off: 0, Data: buf[:256<<10]}}, 0))
		checkpoint()
	}
	checkpoint()
	atEnd("after the cut")
	st = d.Stats()
	t.Logf("cut and rewritten at the bottom: file %d KiB (was %d KiB), %d segments, %d resizes", mem.Size()>>10, before>>10, st.Segments, st.Resizes)
	require.LessOrEqual(t, mem.Size(), g.segStart(2)*bs, "the file comes back down to the segments in use")

	// Reopen a crash image: the same data, the same file.
	require.NoError(t, d.Flush())
	want := make([]byte, 256<<10)
	_, err = d.ReadAt(want, 0)
	require.NoError(t, err)
	again, err := Open(mem.CrashClone(blockdev.CrashConfig{Survive: 0}), Options{})
	require.NoError(t, err)
	defer again.Close()
	require.True(t, again.grows)
	got := make([]byte, 256<<10)
	_, err = again.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, again.checkInvariants())
}

// TestFullSizeFileKeepsItsSize: a container whose file is as long as its
// layout (every container written before files followed their use, or a
// file extended to RequiredSize) keeps it: it never resizes it.
func TestFullSizeFileKeepsItsSize(t *testing.T) {
	limit, err := RequiredSize(crashLimits.BlockSize, smallOptions)
	require.NoError(t, err)
	mem, err := blockdev.NewMemFile(limit, limit, crashLimits)
	require.NoError(t, err)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	require.False(t, d.grows)
	for _, o := range genSizedOps(3, 60, d.Size()/d.g.bs, d.Limits()) {
		require.NoError(t, o.apply(d))
	}
	require.NoError(t, d.Close())
	require.Zero(t, d.Stats().Resizes)
	require.Zero(t, mem.Stats().Resizes)
	require.Equal(t, limit, mem.Size())
}

// TestShortFileOnFixedDevice: only a device that can grow may be shorter
// than the layout. The same bytes on a device of fixed size (a Mem, a
// block device; and what a release from before growing files saw, whose
// Open required the whole layout) are ErrCorrupt, and Open writes
// nothing; extended to the layout's size, as a file with truncate -s,
// they open as a container of fixed size.
func TestShortFileOnFixedDevice(t *testing.T) {
	mem := newSmallFile(t)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	o := genOps(4, 20, d.Size()/d.g.bs, d.Limits())
	for _, w := range o {
		require.NoError(t, w.apply(d))
	}
	require.NoError(t, d.Close())
	img, err := crashmodel.ReadAll(mem.CrashClone(blockdev.CrashConfig{Survive: 1}))
	require.NoError(t, err)
	limit, err := RequiredSize(crashLimits.BlockSize, smallOptions)
	require.NoError(t, err)
	require.Less(t, int64(len(img)), limit)

	fixed, err := blockdev.NewMem(int64(len(img)), crashLimits)
	require.NoError(t, err)
	buf := blockdev.AlignedBuffer(len(img), crashLimits.MemAlign)
	copy(buf, img)
	_, err = fixed.WriteAt(buf, 0, 0)
	require.NoError(t, err)
	require.NoError(t, fixed.Flush())
	_, err = Open(fixed, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	require.Equal(t, int64(1), fixed.Stats().Writes, "a refused Open writes nothing")

	full, err := blockdev.NewMem(limit, crashLimits)
	require.NoError(t, err)
	_, err = full.WriteAt(buf, 0, 0)
	require.NoError(t, err)
	e, err := Open(full, Options{})
	require.NoError(t, err)
	require.False(t, e.grows)
	model := newPrefixModel(e.Size()/e.g.bs, e.g.bs)
	for _, w := range o {
		model.add(w)
	}
	_, err = model.match(e, len(o), len(o))
	require.NoError(t, err)
	require.NoError(t, e.Close())
}

// growCase is a run of crashGrowing.
type growCase struct {
	seed          uint64
	control       sizeControl
	stride        uint64 // crash before every stride-th inner write, flush or resize
	cutRecoveries bool   // cut the recovery of one image in seven at every inner operation
}

// growCampaign is the run TestCrashGrowingFile makes of workload seed,
// and its negative controls with a control.
func growCampaign(seed uint64, control sizeControl) growCase {
	return growCase{seed: seed, control: control, stride: sized[uint64](3, 3, 1), cutRecoveries: true}
}

// growRun is what crashGrowing saw.
type growRun struct {
	points, images, recoveryCuts int
	grows, cuts                  int // inner resizes that grew the file, that cut it
	short                        int // crash images whose file is shorter than the running device's
	// headCut: crash images whose file ends before the end of a segment
	// the log had started to write into (its growth lost with the writes).
	headCut int
	err     error
}

// crashGrowing runs a workload of writes, batches and size changes
// (genSizedOps) on a container formatted over a new, empty file
// (newSmallFile) with c's control, and cuts the power before every
// stride-th inner write, flush and resize, including those that grow and
// cut the file (the crash model covers the size: a resize is lost with
// the writes that needed it). Every image must open and show a prefix of
// the operations, no shorter than the last durable one, and take a
// durable write; with cutRecoveries one in seven is also cut
// at every inner operation of its recovery. It returns the first broken
// promise in err.
func crashGrowing(t *testing.T, c growCase) growRun {
	seed, control, stride := c.seed, c.control, c.stride
	probe, err := Format(newSmallMem(t), smallOptions)
	require.NoError(t, err)
	l, nblocks := probe.Limits(), probe.Size()/int64(probe.Limits().BlockSize)
	bs := int64(l.BlockSize)
	ops := genSizedOps(seed, 80, nblocks, l)
	model := newPrefixModel(nblocks, bs)
	for _, o := range ops {
		model.add(o)
	}
	opts := smallOptions
	opts.sizeControl = control
	mem := newSmallFile(t)
	var (
		run  growRun
		at   progress
		mu   sync.Mutex // reads run in parallel
		seen uint64
		dev  *Device // the running device, once formatted (its lock is held when it writes)
	)
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpRead {
			return nil // a crash image before a read shows what the one before the last write did
		}
		mu.Lock()
		defer mu.Unlock()
		if op.Kind == blockdev.OpWrite && op.Len == 0 { // a Resize (see FaultDevice)
			if op.Off > mem.Size() {
				run.grows++
			} else {
				run.cuts++
			}
		}
		seen++
		if run.err != nil || (seen-1)%stride != 0 {
			return nil
		}
		run.points++
		for _, cfg := range crashConfigs(op.Index) {
			run.images++
			clone := mem.CrashClone(cfg)
			if clone.Size() < mem.Size() {
				run.short++
			}
			if dev != nil && dev.head > dev.g.segStart(dev.g.segOf(dev.head)) && clone.Size() < dev.g.segEnd(dev.head)*bs {
				run.headCut++
			}
			got, err := checkGrowImage(clone, Options{sizeControl: control}, ops, model, at, nblocks, bs)
			if err == nil && got >= 0 && c.cutRecoveries && run.images%7 == 0 {
				var n int
				// The same image again (the clone took a write since).
				n, err = cutRecoveryErr(mem.CrashClone(cfg), model, got)
				run.recoveryCuts += n
			}
			if err != nil {
				run.err = fmt.Errorf("seed %d, crash before inner operation %d (%v at %d, +%d) %+v, progress %+v: %w",
					seed, op.Index, op.Kind, op.Off, op.Len, cfg, at, err)
				return nil
			}
		}
		return nil
	})
	d, err := Format(blockdev.WithFaults(mem, inj), opts)
	if err != nil {
		run.err = fmt.Errorf("format: %w", err)
		return run
	}
	dev = d
	at.formatted = true
	for i, o := range ops {
		at.started = i + 1
		if err := o.apply(d); err != nil {
			run.err = errors.Join(run.err, fmt.Errorf("seed %d: %v: %w", seed, o, err))
			return run
		}
		at.completed = i + 1
		if o.durable() {
			at.durable = i + 1
		}
	}
	if run.err == nil {
		if _, err := model.match(d, len(ops), len(ops)); err != nil {
			run.err = fmt.Errorf("seed %d, at the end: %w", seed, err)
		}
	}
	return run
}

// checkGrowImage opens a crash image (with opts) and checks it against the prefix
// model (every block attributed to its writer, the blocks and the file
// size of one prefix; the crashmodel oracle knows no cuts), then writes a
// durable batch, crashes again and checks that too. It returns the prefix
// the image showed (-1 for an image of a cut Format).
func checkGrowImage(clone *blockdev.Mem, opts Options, ops []wop, model *prefixModel, at progress, nblocks, bs int64) (int, error) {
	d, err := Open(clone, opts)
	if !at.formatted && errors.Is(err, ErrNotFormatted) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open (file of %d bytes): %w", clone.Size(), err)
	}
	if err := d.checkInvariants(); err != nil {
		return 0, err
	}
	got, err := model.match(d, at.durable, at.started)
	if err != nil {
		return 0, err
	}
	next := wop{kind: opBatch, id: uint64(len(ops) + 1), flags: blockdev.FUA}
	for _, lb := range []int64{0, nblocks / 3, nblocks - 2} {
		p := blockdev.Piece{Off: lb * bs, Data: make([]byte, 2*bs)}
		crashmodel.Fill(p.Data, next.id, p.Off)
		next.pieces = append(next.pieces, p)
	}
	if err := next.apply(d); err != nil {
		return 0, fmt.Errorf("a durable write after recovery: %w", err)
	}
	after := &prefixModel{bs: bs, states: [][]uint64{slices.Clone(model.states[got])}, sizes: []int64{model.sizes[got]}}
	after.add(next)
	again, err := Open(clone.CrashClone(blockdev.CrashConfig{Survive: 0}), opts)
	if err != nil {
		return 0, fmt.Errorf("second crash: %w", err)
	}
	if _, err := after.match(again, 1, 1); err != nil {
		return 0, fmt.Errorf("second crash: %w", err)
	}
	return got, nil
}

// TestCrashGrowingFile: crashGrowing without a control, at every third
// inner write, flush and resize of the workload (every one of four
// workloads with UNTORN_LONG=1): no image may break a promise,
// and the workloads must grow the file, cut it, and leave images whose
// file is shorter than the one running (a growth lost with the writes
// that needed it).
func TestCrashGrowingFile(t *testing.T) {
	t.Parallel()
	seeds := sized([]uint64{31}, []uint64{31}, []uint64{31, 32, 33, 34})
	var total growRun
	for _, seed := range seeds {
		run := crashGrowing(t, growCampaign(seed, sizeHonest))
		require.NoError(t, run.err)
		total.points += run.points
		total.images += run.images
		total.recoveryCuts += run.recoveryCuts
		total.grows += run.grows
		total.cuts += run.cuts
		total.short += run.short
		total.headCut += run.headCut
	}
	t.Logf("crash points: %d over %d workloads, images verified: %d (%d with a file shorter than the running one's, %d of them shorter than the head segment the log was writing), power cuts inside their recovery: %d; the file grew %d times and was cut %d times",
		total.points, len(seeds), total.images, total.short, total.headCut, total.recoveryCuts, total.grows, total.cuts)
	require.Positive(t, total.grows)
	require.Positive(t, total.cuts)
	require.Positive(t, total.short)
	require.Positive(t, total.headCut)
	require.Positive(t, total.recoveryCuts)
}

// TestGrowingFileControlsAreCaught: the negative controls of
// TestCrashGrowingFile, each caught by its first workload as that test
// runs it: the log written past the end of the file (refused by the
// device, as a File refuses it), the file cut before the checkpoint that
// frees what it cuts is durable (a crash keeps the cut and the old root,
// whose log is gone: recovery finds damage, or maps data past the end),
// and reads past the end of a file whose growth a crash lost failing
// instead of reading zeros.
func TestGrowingFileControlsAreCaught(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		control sizeControl
	}{{"log past the end", sizeNoGrow}, {"early cut", sizeEarlyShrink}, {"reads past the end fail", sizeReadPastEnd}} {
		run := crashGrowing(t, growCampaign(31, c.control))
		require.Error(t, run.err, c.name)
		t.Logf("%s: caught after %d images: %v", c.name, run.images, run.err)
	}
}

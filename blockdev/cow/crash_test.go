package cow

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

var crashLimits = blockdev.LimitsNone // the layer needs nothing of the inner device

func newSmallMem(t require.TestingT) *blockdev.Mem { return newMem(t, crashLimits, smallOptions) }

// progress is where a workload was when the inner device saw an operation.
type progress struct {
	formatted bool
	started   int // operations begun (the last may be in flight)
	completed int // operations returned
	durable   int // operations known durable (up to the last Flush or FUA)
}

// runWorkload formats a device over dev and runs ops, keeping *at current.
func runWorkload(t testing.TB, dev blockdev.Device, ops []wop, at *progress) *Device {
	return runWorkloadWith(t, dev, smallOptions, ops, at)
}

// runWorkloadWith is runWorkload with Format options opts.
func runWorkloadWith(t testing.TB, dev blockdev.Device, opts Options, ops []wop, at *progress) *Device {
	d, err := Format(dev, opts)
	require.NoError(t, err)
	at.formatted = true
	for i, o := range ops {
		at.started = i + 1
		require.NoError(t, o.apply(d), "%v", o)
		at.completed = i + 1
		if o.durable() {
			at.durable = i + 1
		}
	}
	return d
}

// crashModel builds the crashmodel oracle for the operations of at: the
// completed ones as they were issued, an operation still in flight as a
// volatile write.
func crashModel(t testing.TB, ops []wop, at progress, nblocks, bs int64) *crashmodel.Model {
	m, err := crashmodel.New(nblocks*bs, int(bs))
	require.NoError(t, err)
	for i, o := range ops[:at.started] {
		flags := o.flags
		if i >= at.completed {
			flags &^= blockdev.FUA
		}
		for _, p := range o.pieces {
			require.NoError(t, m.Write(p.Data, p.Off, flags))
		}
		if i < at.durable && o.durable() {
			m.Flush()
		}
	}
	return m
}

// crashConfigs are the crash images taken at every crash point; under the
// race detector one of them, rotating.
func crashConfigs(k uint64) []blockdev.CrashConfig {
	all := []blockdev.CrashConfig{{Seed: 1, Survive: 0}, {Seed: 2, Survive: 0.5}, {Seed: 3, Survive: 0.8}, {Seed: 4, Survive: 1}}
	for i := range all {
		all[i].Seed += k * 31
	}
	if raceEnabled {
		return all[k%4 : k%4+1]
	}
	return all
}

// crashWorkload returns a workload for the small device and its prefix model.
func crashWorkload(t *testing.T, seed uint64) ([]wop, *prefixModel, blockdev.Limits, int64) {
	probe, err := Format(newSmallMem(t), smallOptions)
	require.NoError(t, err)
	l, nblocks := probe.Limits(), probe.Size()/int64(probe.Limits().BlockSize)
	ops := genOps(seed, 80, nblocks, l)
	model := newPrefixModel(nblocks, int64(l.BlockSize))
	for _, o := range ops {
		model.add(o)
	}
	return ops, model, l, nblocks
}

// TestCrashAtEveryWriteIndex re-runs a workload over a fresh Mem for each
// crash point k, cloning the Mem as after a power cut just before the
// k-th inner operation, and checks every clone after Open: it shows the
// state after some prefix of the operations, no shorter than the last
// Flush or FUA and no longer than the operations begun (so every batch is
// whole and every durable one present), and it passes the crashmodel
// oracle. By default (see sized) only every 8th point is re-run; the
// one-pass test below covers all of them.
func TestCrashAtEveryWriteIndex(t *testing.T) {
	t.Parallel()
	ops, model, l, nblocks := crashWorkload(t, 1)
	var at progress
	fd := blockdev.WithFaults(newSmallMem(t), nil)
	runWorkload(t, fd, ops, &at)
	total := fd.Ops()
	stride := sized[uint64](8, 8, 1)
	points, images := 0, 0
	for k := uint64(0); k < total; k += stride {
		mem := newSmallMem(t)
		var clones []*blockdev.Mem
		var snap, at progress
		inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Index == k {
				snap = at
				for _, cfg := range crashConfigs(k) {
					clones = append(clones, mem.CrashClone(cfg))
				}
			}
			return nil
		})
		runWorkload(t, blockdev.WithFaults(mem, inj), ops, &at)
		require.NotEmpty(t, clones)
		points++
		for ci, clone := range clones {
			images++
			checkCrashImage(t, clone, ops, model, snap, nblocks, int64(l.BlockSize), k, crashConfigs(k)[ci])
		}
	}
	t.Logf("crash points re-run and checked: %d of %d, images verified: %d", points, total, images)
}

// TestCrashAtEveryWriteIndexOnePass takes the clones of every crash point
// in a single run per workload (the workload is deterministic and a clone
// does not disturb the running Mem, so this equals re-running per point)
// and checks each at once, for several workloads.
func TestCrashAtEveryWriteIndexOnePass(t *testing.T) {
	t.Parallel()
	seeds := sized([]uint64{2}, []uint64{2}, []uint64{2, 3, 4})
	points, images := 0, 0
	for _, seed := range seeds {
		ops, model, l, nblocks := crashWorkload(t, seed)
		mem := newSmallMem(t)
		var at progress
		inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
			points++
			for _, cfg := range crashConfigs(op.Index) {
				images++
				checkCrashImage(t, mem.CrashClone(cfg), ops, model, at, nblocks, int64(l.BlockSize), op.Index, cfg)
			}
			return nil
		})
		runWorkload(t, blockdev.WithFaults(mem, inj), ops, &at)
	}
	t.Logf("crash points checked: %d over %d workloads, images verified: %d", points, len(seeds), images)
}

// checkCrashImage opens a crash image and checks it against both oracles,
// then writes a durable batch, crashes again and checks that too (which
// catches stale records after the recovered log end coming back).
func checkCrashImage(t *testing.T, clone *blockdev.Mem, ops []wop, model *prefixModel, at progress,
	nblocks, bs int64, k uint64, cfg blockdev.CrashConfig) {
	t.Helper()
	d, err := Open(clone, Options{})
	if !at.formatted && err != nil {
		require.ErrorIs(t, err, ErrNotFormatted, "crash at %d %+v", k, cfg)
		return
	}
	require.NoError(t, err, "crash at %d %+v", k, cfg)
	require.NoError(t, d.checkInvariants())
	got, err := model.match(d, at.durable, at.started)
	require.NoError(t, err, "crash at %d %+v (progress %+v)", k, cfg, at)
	require.NoError(t, crashModel(t, ops, at, nblocks, bs).CheckDevice(d), "crash at %d %+v", k, cfg)
	if raceEnabled && k%4 != 0 {
		return
	}

	// Second life: a durable batch, then a crash that keeps nothing volatile.
	next := wop{kind: opBatch, id: uint64(len(ops) + 1), flags: blockdev.FUA}
	for _, lb := range []int64{0, nblocks / 3, nblocks - 2} {
		p := blockdev.Piece{Off: lb * bs, Data: make([]byte, 2*bs)}
		crashmodel.Fill(p.Data, next.id, p.Off)
		next.pieces = append(next.pieces, p)
	}
	require.NoError(t, next.apply(d))
	after := &prefixModel{bs: bs, states: [][]uint64{slices.Clone(model.states[got])}, sizes: []int64{model.sizes[got]}}
	after.add(next)
	again, err := Open(clone.CrashClone(blockdev.CrashConfig{Survive: 0}), Options{})
	require.NoError(t, err, "second crash after crash at %d %+v", k, cfg)
	_, err = after.match(again, 1, 1)
	require.NoError(t, err, "second crash after crash at %d %+v", k, cfg)
}

// TestCrashDuringRecovery restarts a device whose last operations are
// still volatile (no power cut), and cuts the power at every inner
// operation of that Open: the image must still show a state between the
// last durable point and everything completed.
func TestCrashDuringRecovery(t *testing.T) {
	t.Parallel()
	ops, model, _, _ := crashWorkload(t, 12)
	for len(ops) > 0 && ops[len(ops)-1].durable() {
		ops = ops[:len(ops)-1]
	}
	mem := newSmallMem(t)
	var at progress
	runWorkload(t, mem, ops, &at)
	require.Less(t, at.durable, at.completed, "the workload must end with volatile operations")
	points := 0
	for k := uint64(0); ; k++ {
		base := mem.CrashClone(blockdev.CrashConfig{Survive: 1}) // the running device, volatile writes included
		base = withVolatile(t, mem, base)
		var clones []*blockdev.Mem
		inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
			if op.Index == k {
				for seed := range uint64(16) {
					clones = append(clones, base.CrashClone(blockdev.CrashConfig{Seed: seed, Survive: 0.5}))
				}
			}
			return nil
		})
		fd := blockdev.WithFaults(base, inj)
		_, err := Open(fd, Options{})
		require.NoError(t, err)
		if len(clones) == 0 {
			break
		}
		points++
		for _, c := range clones {
			d, err := Open(c, Options{})
			require.NoError(t, err, "crash at %d of Open", k)
			_, err = model.match(d, at.durable, at.completed)
			require.NoError(t, err, "crash at %d of Open", k)
		}
	}
	t.Logf("crash points during recovery checked: %d", points)
}

// withVolatile returns a Mem holding mem's durable image (as of its last
// flush) with mem's volatile writes replayed on top as volatile writes, so
// that a crash of it can still lose them.
func withVolatile(t *testing.T, mem, full *blockdev.Mem) *blockdev.Mem {
	durable := mem.CrashClone(blockdev.CrashConfig{Survive: 0})
	img, err := crashmodel.ReadAll(full)
	require.NoError(t, err)
	old, err := crashmodel.ReadAll(durable)
	require.NoError(t, err)
	bs := int64(crashLimits.BlockSize)
	for off := int64(0); off < int64(len(img)); off += bs {
		if string(img[off:off+bs]) != string(old[off:off+bs]) {
			buf := blockdev.AlignedBuffer(int(bs), crashLimits.MemAlign)
			copy(buf, img[off:off+bs])
			_, err := durable.WriteAt(buf, off, 0)
			require.NoError(t, err)
		}
	}
	return durable
}

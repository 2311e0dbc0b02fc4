package cow

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// A device whose checkpoint spans two sectors of its inner device: the
// map of 128 blocks takes 64+512 bytes, and the inner device tears a
// plain write at 512 bytes (a disk with 512-byte sectors), so a power cut
// can keep part of a checkpoint write. Checkpoints are frequent.
var (
	sectorLimits   = blockdev.Limits{BlockSize: 512, MemAlign: 512}
	disagreeOption = Options{LogicalSize: 128 << 12, SegmentSize: 32 << 10, AtomicMax: 16 << 10, MaxBatch: 32 << 10,
		CheckpointInterval: 64 << 10}
)

// disagreeRun checks the images of one TestRecoveryFromDisagreeingCopies.
type disagreeRun struct {
	t      *testing.T
	model  *prefixModel
	seen1  map[chainKey]bool
	result map[chainKey]string // level-2 image -> "" or its failure
	buf    []byte
	first  int      // distinct level-1 images
	second int      // level-2 images checked (seeds that gave the same image count once)
	pairs  []cutTal // by index of the second Open's write/flush
	seeds  uint64   // crash seeds per cut of the second Open
	logged int
	fail   failures
}

type cutTal struct{ images, failed int }

// level1 checks a crash image taken inside a checkpoint (between its
// writes and flushes the superblock copies may disagree): it must open and
// show a state in [lo, hi]. Then it cuts the power at every write and
// flush of the next Open of it, keeping each volatile write with chance
// 0.5, seeds 0 to r.seeds-1: every such image must open and show that
// same state.
func (r *disagreeRun) level1(img *blockdev.Mem, lo, hi int, path string) {
	key := chainKey{hash: imageHash(r.t, img, &r.buf), lo: lo, hi: hi}
	if r.seen1[key] {
		return
	}
	r.seen1[key] = true
	r.first++
	d, err := Open(img.CrashClone(blockdev.CrashConfig{Survive: 1}), Options{})
	if err != nil {
		r.fail.add("%s: Open: %v", path, err)
		return
	}
	want, err := r.model.match(d, lo, hi)
	if err != nil {
		r.fail.add("%s: %v", path, err)
		return
	}
	j, opened := 0, false
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpRead || opened {
			return nil
		}
		if len(r.pairs) <= j {
			r.pairs = append(r.pairs, cutTal{})
		}
		failed := 0
		sameMsg := ""
		same := img.Volatile() == 0 // then every seed gives the same image
		if same {
			sameMsg = r.level2(img.CrashClone(blockdev.CrashConfig{}), want, lo, hi)
		}
		for seed := range r.seeds {
			cfg := blockdev.CrashConfig{Seed: seed, Survive: 0.5}
			r.pairs[j].images++
			msg := sameMsg
			if !same {
				msg = r.level2(img.CrashClone(cfg), want, lo, hi)
			}
			if msg != "" {
				failed++
				r.fail.add("%s / cut at write/flush %d of the next Open (survive 0.5 seed %d): %s", path, j, seed, msg)
			}
		}
		r.pairs[j].failed += failed
		if failed > 0 && r.logged < 10 {
			r.logged++
			r.t.Logf("%s, then at write/flush %d of the next Open: %d of %d seeds fail", path, j, failed, r.seeds)
		}
		j++
		return nil
	})
	_, err = Open(blockdev.WithFaults(img, inj), Options{})
	opened = true
	require.NoError(r.t, err, "%s: the second Open", path) // the first one succeeded
}

// level2 opens a crash image of the Open of an image that showed state
// want, and returns what is wrong with it, if anything.
func (r *disagreeRun) level2(img *blockdev.Mem, want, lo, hi int) string {
	key := chainKey{hash: imageHash(r.t, img, &r.buf), want: want, lo: lo, hi: hi}
	if msg, ok := r.result[key]; ok {
		return msg
	}
	r.second++
	msg := ""
	if d, err := Open(img, Options{}); err != nil {
		msg = fmt.Sprintf("Open: %v", err)
	} else if got, err := r.model.match(d, lo, hi); err != nil {
		msg = err.Error()
	} else if got != want {
		msg = fmt.Sprintf("shows the state after %d operations, the image before the cut %d", got, want)
	}
	r.result[key] = msg
	return msg
}

// TestRecoveryFromDisagreeingCopies is the regression of issue 11: a cut
// inside a checkpoint (after the first superblock copy is durable, before
// the second is written) leaves copies that disagree, each naming a
// different checkpoint slot. The next Open recovers from the newer and
// writes its own checkpoint into the other slot, which the older copy
// still relies on; a cut there that keeps the new first copy but tears
// that checkpoint left no copy naming an intact checkpoint, and Open
// failed with ErrCorrupt.
//
// The images are made without knowing the format: the power is cut at
// every write and flush of operations that checkpoint (found by a first
// run, through Stats) and of an Open (which always checkpoints), keeping
// none, half or all of the volatile writes; then at every write and flush
// of the next Open of each such image, keeping each volatile write with
// chance 0.5, seeds 0-63. Every image must open and show the state its
// first image showed, which is a prefix of the workload's operations
// between what was durable and what was begun at the first cut.
//
// By default (see sized) the cuts are those of the first 12 points inside
// checkpoints, and the second Open's cuts take seeds 0-15; with
// UNTORN_LONG=1 the first 60 points (12 under -race) and seeds 0-63. On
// the first 12 points, 16 seeds reach 194 of the 235 distinct second
// images that 64 seeds reach (measured), at a quarter of the cost.
func TestRecoveryFromDisagreeingCopies(t *testing.T) {
	t.Parallel()
	probe, err := Format(newMem(t, sectorLimits, disagreeOption), disagreeOption)
	require.NoError(t, err)
	l, nblocks := probe.Limits(), probe.Size()/int64(probe.Limits().BlockSize)
	ops := genOps(31, 40, nblocks, l)
	model := newPrefixModel(nblocks, int64(l.BlockSize))
	for _, o := range ops {
		model.add(o)
	}
	run := func(dev blockdev.Device, at *progress) *Device {
		return runWorkloadWith(t, dev, disagreeOption, ops, at)
	}

	// First run, operation by operation: which operations checkpoint,
	// and the indexes of the writes and flushes each of them issues.
	writes, ckptOps := 0, 0
	inside := map[int]bool{}
	mem := newMem(t, sectorLimits, disagreeOption)
	fd := blockdev.WithFaults(mem, blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind != blockdev.OpRead {
			writes++
		}
		return nil
	}))
	d, err := Format(fd, disagreeOption)
	require.NoError(t, err)
	for _, o := range ops {
		start, ck := writes, d.Stats().Checkpoints
		require.NoError(t, o.apply(d), "%v", o)
		if d.Stats().Checkpoints > ck {
			ckptOps++
			for k := start; k < writes; k++ {
				inside[k] = true
			}
		}
	}
	require.GreaterOrEqual(t, ckptOps, 2, "the workload must checkpoint")

	r := &disagreeRun{t: t, model: model, seen1: map[chainKey]bool{}, result: map[chainKey]string{}, seeds: sized[uint64](16, 64, 64)}
	cfgs := func(k uint64) []blockdev.CrashConfig {
		return []blockdev.CrashConfig{{Seed: k, Survive: 0}, {Seed: k, Survive: 0.5}, {Seed: k, Survive: 1}}
	}
	limit := min(len(inside), sized(12, 12, 60)) // the first checkpoints
	// Second run: cut inside every checkpointing operation.
	mem = newMem(t, sectorLimits, disagreeOption)
	var at progress
	k, cut := 0, 0
	run(blockdev.WithFaults(mem, blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpRead {
			return nil
		}
		if inside[k] && cut < limit {
			cut++
			for _, cfg := range cfgs(uint64(k)) {
				r.level1(mem.CrashClone(cfg), at.durable, at.started,
					fmt.Sprintf("cut at write/flush %d of the workload, in operation %d (survive %.1f seed %d)", k, at.started, cfg.Survive, cfg.Seed))
			}
		}
		k++
		return nil
	})), &at)
	// And inside an Open of the device as it stands, all writes kept.
	base := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
	_, err, cuts := recoveryCuts(base, cfgs(uint64(k)))
	require.NoError(t, err)
	for _, c := range cuts {
		r.level1(c.img, len(ops), len(ops), c.String())
	}

	total := 0
	for j, p := range r.pairs {
		total += p.images
		t.Logf("cut at write/flush %d of the next Open, survive 0.5 seeds 0-%d: %d of %d images fail", j, r.seeds-1, p.failed, p.images)
	}
	t.Logf("%d checkpointing operations, %d cut points inside them and %d in an Open; %d distinct first images, %d second images (%d distinct)",
		ckptOps, cut, len(cuts)/3, r.first, total, r.second)
	r.fail.report(t, total, "second images")
}

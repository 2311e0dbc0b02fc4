package cow

import (
	"fmt"
	"hash/maphash"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// Tests of power cuts during recovery, and during the recovery of a device
// whose previous recovery was cut (issue 11). They use only the exported
// API and the raw inner image, so they hold for any on-disk format.

// failures collects the contract violations of a test that checks many
// images, so that it reports how many failed and how, not just the first.
type failures struct {
	n     int
	first []string
	kinds map[string]int // failures by the first line of their message
}

func (f *failures) add(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	kind := msg
	if i := strings.LastIndex(kind, "): "); i >= 0 {
		kind = kind[i+3:] // drop the image's path
	}
	f.addKind(kind, msg)
}

// addKind records a failure of the given kind (numbers in it do not count).
func (f *failures) addKind(kind, msg string) {
	f.n++
	if len(f.first) < 5 {
		f.first = append(f.first, msg)
	}
	if f.kinds == nil {
		f.kinds = map[string]int{}
	}
	kind = digits.ReplaceAllString(strings.ReplaceAll(kind, "\n", " | "), "N")
	if len(kind) > 200 {
		kind = kind[:200]
	}
	f.kinds[kind]++
}

var digits = regexp.MustCompile(`0x[0-9a-f]+|[0-9]+`)

// report fails t if anything failed, with the count, the first messages and
// a tally of the kinds.
func (f *failures) report(t *testing.T, of int, what string) {
	t.Helper()
	if f.n == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s failed; the first:\n", f.n, of, what)
	for _, m := range f.first {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	b.WriteString("by kind:\n")
	for k, n := range f.kinds {
		fmt.Fprintf(&b, "  %5d  %s\n", n, k)
	}
	t.Error(b.String())
}

var imageSeed = maphash.MakeSeed()

// imageHash hashes the whole image of m (to skip images already checked),
// reading it into *buf.
func imageHash(t testing.TB, m *blockdev.Mem, buf *[]byte) uint64 {
	if int64(len(*buf)) != m.Size() {
		*buf = blockdev.AlignedBuffer(int(m.Size()), m.Limits().MemAlign)
	}
	_, err := m.ReadAt(*buf, 0)
	require.NoError(t, err)
	return maphash.Bytes(imageSeed, *buf)
}

// cutImage is a crash image taken during an Open: before its k-th write or
// flush, with cfg.
type cutImage struct {
	img *blockdev.Mem
	k   int
	cfg blockdev.CrashConfig
}

func (c cutImage) String() string {
	return fmt.Sprintf("cut at write/flush %d of Open (survive %.1f seed %d)", c.k, c.cfg.Survive, c.cfg.Seed)
}

// recoveryCuts opens img (a Mem without volatile writes; Open writes to
// it) and takes crash images just before every write and flush that Open
// issues, one per config: a CrashPoint armed at each index in turn, taken
// in one pass (a clone does not disturb the running Mem, and Open is
// deterministic, so this equals re-running Open per index). It returns
// the opened device or Open's error, and the crash images.
func recoveryCuts(img *blockdev.Mem, cfgs []blockdev.CrashConfig) (*Device, error, []cutImage) {
	var cuts []cutImage
	k, opened := 0, false
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpRead || opened { // not the writes of reads (defragmentation) after Open
			return nil
		}
		for _, cfg := range cfgs {
			cuts = append(cuts, cutImage{img: img.CrashClone(cfg), k: k, cfg: cfg})
		}
		k++
		return nil
	})
	d, err := Open(blockdev.WithFaults(img, inj), Options{})
	opened = true
	return d, err, cuts
}

// chainConfigs are the crash images taken at each cut of the chains: none,
// half (the seed varies with k) or all of the volatile writes survive.
func chainConfigs(k uint64) []blockdev.CrashConfig {
	return []blockdev.CrashConfig{{Seed: k, Survive: 0}, {Seed: k, Survive: 0.5}, {Seed: k, Survive: 1}}
}

// chainKey identifies an image already checked with the same expectations.
type chainKey struct {
	hash         uint64
	want, lo, hi int
	level        int
}

// chainRun checks the chains of one test.
type chainRun struct {
	t          *testing.T
	model      *prefixModel
	seen       map[chainKey]bool
	levels     [4]int // images checked per level
	sampled    int    // level-2 images whose recovery was cut again
	sampleStep int
	fail       failures
	buf        []byte // for imageHash
}

// check opens img (level 0: a cut of the workload; level n: a cut of the
// Open of a level n-1 image) and checks that it shows a state of the
// workload in [lo, hi] and, below level 0, exactly the state want its
// level-0 image showed: a cut during recovery, with no writes of the
// caller in between, may neither lose nor add anything. Levels 0 and 1 are
// opened through a power cut at every write and flush of the Open, and so
// is a sample of level 2; the resulting images are checked one level down.
func (c *chainRun) check(img *blockdev.Mem, level, want, lo, hi int, path string) {
	key := chainKey{hash: imageHash(c.t, img, &c.buf), want: want, lo: lo, hi: hi, level: level}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.levels[level]++
	cut := level < 2
	if level == 2 && c.levels[2]%c.sampleStep == 0 {
		cut = true
		c.sampled++
	}
	var d *Device
	var err error
	var cuts []cutImage
	if cut {
		d, err, cuts = recoveryCuts(img, chainConfigs(uint64(c.levels[level])))
	} else {
		d, err = Open(img, Options{}) // img is not needed again
	}
	if err != nil {
		c.fail.add("%s: Open: %v", path, err)
		return
	}
	got, err := c.model.match(d, lo, hi)
	if err != nil {
		c.fail.add("%s: %v", path, err)
		return
	}
	if want >= 0 && got != want {
		c.fail.add("%s: shows the state after %d operations, the image before the cut %d", path, got, want)
		return
	}
	for _, ci := range cuts {
		c.check(ci.img, level+1, got, lo, hi, path+" / "+ci.String())
	}
}

// TestCrashChainsDuringRecovery cuts the power at every write and flush of
// a workload that checkpoints and cleans, with several crash configs;
// opens each image through a power cut at every write and flush of that
// Open (recovery writes a checkpoint and superblocks), again with several
// configs; and does the same to each of those images, and once more to a
// sample of the next level. Every image must open and show the state after
// a prefix of the workload's operations, at least everything durable at
// the first cut, and a cut during recovery must show exactly the state
// the image before it showed.
func TestCrashChainsDuringRecovery(t *testing.T) {
	t.Parallel()
	ops, model, _, _ := crashWorkload(t, 21)
	stride, sampleStep := sized[uint64](32, 32, 1), sized(64, 64, 16)
	c := &chainRun{t: t, model: model, seen: map[chainKey]bool{}, sampleStep: sampleStep}
	mem := newSmallMem(t)
	var at progress
	var idx, cutPoints uint64
	inj := blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpRead {
			return nil
		}
		k := idx
		idx++
		if !at.formatted || k%stride != 0 {
			return nil // cuts during Format: see TestCrashAtEveryWriteIndex
		}
		cutPoints++
		for _, cfg := range chainConfigs(k) {
			path := fmt.Sprintf("workload cut at write/flush %d (survive %.1f seed %d, progress %+v)", k, cfg.Survive, cfg.Seed, at)
			c.check(mem.CrashClone(cfg), 0, -1, at.durable, at.started, path)
		}
		return nil
	})
	d := runWorkload(t, blockdev.WithFaults(mem, inj), ops, &at)
	st := d.Stats()
	require.Greater(t, st.Checkpoints, int64(2), "the workload must checkpoint")
	require.Positive(t, st.CleanedBlocks, "the workload must clean")
	total := c.levels[0] + c.levels[1] + c.levels[2] + c.levels[3]
	t.Logf("workload cut points: %d of %d writes/flushes; distinct images checked: %d (level 0: %d, level 1: %d, level 2: %d, level 3: %d, from %d sampled level-2 recoveries)",
		cutPoints, idx, total, c.levels[0], c.levels[1], c.levels[2], c.levels[3], c.sampled)
	c.fail.report(t, total, "images")
}

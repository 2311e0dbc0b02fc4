package cow

import (
	"errors"
	"fmt"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// region is a byte range of the inner device that a bit flip may hit:
// only bytes a structure encodes, not the padding after it.
type region struct {
	name       string
	start, end int64 // bytes
	proven     bool  // a record that a later record shows was durable
}

// metadataRegions returns the superblocks, both checkpoints and every
// record after the current checkpoint (header and data) of img.
func metadataRegions(t *testing.T, img []byte, g geometry) []region {
	sbs := [2]superblock{}
	for i := range sbs {
		sb, err := decodeSuperblock(img[int64(i)*g.bs : int64(i+1)*g.bs])
		if err == nil {
			sbs[i] = sb
		}
	}
	sb := sbs[0]
	if sbs[1].ckptGen > sb.ckptGen {
		sb = sbs[1]
	}
	cur, spare := g.ckptSlot(sb.ckptSlot())*g.bs, g.ckptSlot(1-sb.ckptSlot())*g.bs
	clen := checkpointLen(g.nLogical)
	regs := []region{{"superblock 0", 0, sbLen, false}, {"superblock 1", g.bs, g.bs + sbLen, false},
		{"current checkpoint", cur, cur + clen, false}, {"spare checkpoint", spare, spare + clen, false}}
	c, err := decodeCheckpoint(img[cur:])
	require.NoError(t, err)
	pos, seq := c.startPos, c.startSeq
	first := len(regs)
	var durable uint64 // the highest durable watermark of any record
	for {
		r, err := logrec.DecodeHeader(img[pos*g.bs:g.segEnd(pos)*g.bs], g.bs)
		if err != nil || r.Seq != seq || r.Epoch != sb.epoch || r.DevID != sb.devID {
			break
		}
		hdr := pos * g.bs
		data := (pos + r.HdrBlocks) * g.bs
		name := fmt.Sprintf("record %d", r.Seq)
		regs = append(regs, region{name + " header", hdr, hdr + logrec.HeaderLen + logrec.ExtentLen*int64(len(r.Extents)) + logrec.BlockSumLen*r.DataBlocks, false},
			region{name + " data", data, data + r.DataBlocks*g.bs, false})
		durable = max(durable, r.DurableSeq)
		pos, seq = r.Next, seq+1
	}
	for i := first; i < len(regs); i += 2 {
		var s uint64
		_, err := fmt.Sscanf(regs[i].name, "record %d", &s)
		require.NoError(t, err)
		regs[i].proven = s < durable
		regs[i+1].proven = s < durable
	}
	return regs
}

// TestBitFlips flips random bits in superblocks, checkpoints and the
// records after the checkpoint of a device image: Open must either report
// ErrCorrupt (or ErrNotFormatted when no superblock is left) or recover a
// state the workload went through, never wrong data and never a panic. A
// damaged record that a later record shows was durable must be refused:
// only the unproven tail may pass for torn (and lose its transactions).
func TestBitFlips(t *testing.T) {
	opts := smallOptions
	opts.CheckpointInterval = 1 << 30
	// Larger cleaning rounds lay the log out so that rewriting a repaired
	// block at Open first cleans the segment that holds its damaged copy
	// (rewriteRepairsLocked must follow the move; it once did not). Open
	// uses them too.
	opts.cleanBand = 4
	ops, model, _, nblocks := crashWorkload(t, 11)
	mem := newSmallMem(t)
	d, err := Format(mem, opts)
	require.NoError(t, err)
	for _, o := range ops {
		require.NoError(t, o.apply(d))
	}
	require.NoError(t, d.Flush())
	g := d.g
	img, err := crashmodel.ReadAll(mem)
	require.NoError(t, err)
	regs := metadataRegions(t, img, g)
	require.Greater(t, len(regs), 4, "the workload left no records after its last checkpoint")

	flips := 400
	if raceEnabled {
		flips = 150
	}
	rng := rand.New(rand.NewPCG(1, 2))
	outcome := map[string]int{}
	for i := range flips {
		clone := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
		hit := []region{regs[rng.IntN(len(regs))]}
		if i%10 == 0 {
			hit = regs[:2] // both superblocks
		}
		for _, r := range hit {
			at := r.start + rng.Int64N(r.end-r.start)
			blk := at / g.bs
			buf := blockdev.AlignedBuffer(int(g.bs), 512)
			_, err := clone.ReadAt(buf, blk*g.bs)
			require.NoError(t, err)
			buf[at%g.bs] ^= 1 << rng.IntN(8)
			_, err = clone.WriteAt(buf, blk*g.bs, blockdev.FUA)
			require.NoError(t, err)
		}
		kind := hit[0].name
		if strings.HasPrefix(kind, "record") {
			kind = "unproven record"
			if hit[0].proven {
				kind = "proven record"
			}
		}
		d2, err := Open(clone, Options{cleanBand: opts.cleanBand})
		if err != nil {
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFormatted), "flip in %s: %v", hit[0].name, err)
			outcome[kind+": refused"]++
			continue
		}
		require.False(t, hit[0].proven, "flip in %s, which a later record shows was durable, went unnoticed", hit[0].name)
		k, err := model.match(d2, 0, len(ops))
		require.NoError(t, err, "flip in %s", hit[0].name)
		if k == len(ops) {
			outcome[kind+": recovered all"]++
		} else {
			outcome[kind+": recovered an earlier state"]++
		}
		_ = nblocks
	}
	t.Logf("%d bit flips: %v", flips, outcome)
}

// TestOpenRejects checks Open on devices that are not COW devices.
func TestOpenRejects(t *testing.T) {
	mem := newSmallMem(t)
	_, err := Open(mem, Options{})
	require.ErrorIs(t, err, ErrNotFormatted)

	rng := rand.New(rand.NewPCG(3, 4))
	junk := make([]byte, mem.Size())
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	_, err = mem.WriteAt(junk, 0, 0)
	require.NoError(t, err)
	_, err = Open(mem, Options{})
	require.ErrorIs(t, err, ErrNotFormatted)

	tiny, err := blockdev.NewMem(4096, blockdev.LimitsNone)
	require.NoError(t, err)
	_, err = Open(tiny, Options{})
	require.ErrorIs(t, err, ErrNotFormatted)
	_, err = Format(tiny, Options{})
	require.ErrorIs(t, err, ErrTooSmall)
}

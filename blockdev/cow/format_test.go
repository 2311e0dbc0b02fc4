package cow

import (
	"bytes"
	"encoding/binary"
	"github.com/untorn/untorn/blockdev/internal/logrec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// TestFormatOverContainerCut formats a new container over an old one and
// cuts the power at every write and flush of that Format: once Format has
// flushed its marks over both roots (its third operation), no crash may
// bring the old container back; before that, the old one may come back,
// but whole. A cut image is either the old container, a new empty one, or
// refused with ErrIncompleteFormat (which may be formatted again).
func TestFormatOverContainerCut(t *testing.T) {
	t.Parallel()
	mem := newSmallMem(t)
	old, err := Format(mem, smallOptions)
	require.NoError(t, err)
	var at progress
	ops, model, _, _ := crashWorkload(t, 21)
	ops = ops[:40]
	for _, o := range ops {
		require.NoError(t, o.apply(old))
		at.completed++
	}
	require.NoError(t, old.Flush())
	oldID := old.sb.devID
	base := mem.CrashClone(blockdev.CrashConfig{Survive: 1})
	const marksFlushed = 3 // write mark 0, write mark 1, flush
	outcomes := map[string]int{}
	for k := 0; ; k++ {
		cur := base.CrashClone(blockdev.CrashConfig{Survive: 1})
		cp := blockdev.NewCrashPoint(cur)
		cp.Arm(k, blockdev.CrashConfig{Survive: 1})
		_, err := Format(blockdev.WithFaults(cur, cp), smallOptions)
		require.NoError(t, err)
		if _, ok := cp.Take(); !ok {
			break
		}
		for seed := range uint64(16) {
			cur := base.CrashClone(blockdev.CrashConfig{Survive: 1})
			cp := blockdev.NewCrashPoint(cur)
			cp.Arm(k, blockdev.CrashConfig{Seed: seed, Survive: 0.5})
			_, err := Format(blockdev.WithFaults(cur, cp), smallOptions)
			require.NoError(t, err)
			img, ok := cp.Take()
			require.True(t, ok)
			d, err := Open(img, Options{})
			switch {
			case err != nil:
				require.ErrorIs(t, err, ErrIncompleteFormat, "cut at %d seed %d", k, seed)
				outcomes["incomplete"]++
			case d.sb.devID == oldID:
				require.Less(t, k, marksFlushed, "cut at %d seed %d: the old container came back after Format flushed its marks", k, seed)
				_, err := model.match(d, len(ops), len(ops))
				require.NoError(t, err, "cut at %d seed %d: the old container came back damaged", k, seed)
				outcomes["old"]++
			default:
				img, err := crashmodel.ReadAll(d)
				require.NoError(t, err)
				require.True(t, bytes.Equal(img, make([]byte, len(img))), "cut at %d: the new container is not empty", k)
				outcomes["new"]++
			}
		}
	}
	t.Logf("Format cut over an old container: %v", outcomes)
	require.NotZero(t, outcomes["incomplete"])
	require.NotZero(t, outcomes["new"])
}

// TestOldVersionRefused: a container of on-disk format version 1 (or any
// other) is refused with ErrVersion, without writing.
func TestOldVersionRefused(t *testing.T) {
	d, mem := formatMem(t, blockdev.LimitsNone, smallOptions)
	bs := d.g.bs
	for copyNo := range int64(sbBlocks) {
		buf := blockdev.AlignedBuffer(int(bs), 512)
		_, err := mem.ReadAt(buf, copyNo*bs)
		require.NoError(t, err)
		if binary.LittleEndian.Uint64(buf) != sbMagic {
			continue
		}
		binary.LittleEndian.PutUint32(buf[8:], 1)
		binary.LittleEndian.PutUint32(buf[sbLen-4:], logrec.CRC(buf[:sbLen-4]))
		_, err = mem.WriteAt(buf, copyNo*bs, blockdev.FUA)
		require.NoError(t, err)
	}
	noWrites := blockdev.WithFaults(mem, blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO),
		blockdev.OpWrite, blockdev.OpAtomicWrite, blockdev.OpFlush))
	_, err := Open(noWrites, Options{})
	require.ErrorIs(t, err, ErrVersion)
	require.NotErrorIs(t, err, blockdev.ErrInjected, "Open must not write to a container it refuses")
}

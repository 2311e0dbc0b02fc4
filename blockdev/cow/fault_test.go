package cow

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// TestFaultAtEveryIndex fails the k-th inner operation (read, write or
// flush) of a workload with EIO or ENOSPC, for every k. The error must reach
// the caller and reads never show anything but committed data; the fault
// is transient, so the next Flush recovers the device (ErrFailed is not
// sticky) and makes everything that completed durable: reopening the inner
// device, and a crash image of it, show every completed operation, and the
// failed one whole or not at all.
func TestFaultAtEveryIndex(t *testing.T) {
	t.Parallel()
	ops, _, _, nblocks := crashWorkload(t, 7)
	ops = ops[:60]
	fd := blockdev.WithFaults(newSmallMem(t), nil)
	var at progress
	d := runWorkload(t, fd, ops, &at)
	bs := int64(d.Limits().BlockSize)
	total := fd.Ops() + 2*uint64(len(ops)) // reads add operations
	stride := sized[uint64](4, 2, 1)
	checked, refused, kept := 0, 0, 0
	for k := uint64(0); k < total; k += stride {
		errs := []error{blockdev.ErrInjectedEIO, blockdev.ErrInjectedENOSPC}
		mem := newSmallMem(t)
		fd := blockdev.WithFaults(mem, blockdev.AtIndex(k, errs[k%2]))
		d, err := Format(fd, smallOptions)
		if err != nil {
			require.ErrorIs(t, err, blockdev.ErrInjected)
			if d2, err := Open(mem, Options{}); err != nil {
				require.ErrorIs(t, err, ErrNotFormatted, "after a failed Format at %d", k)
			} else {
				_, err = newPrefixModel(nblocks, bs).match(d2, 0, 0)
				require.NoError(t, err)
			}
			checked++
			continue
		}
		checked++
		rng := rand.New(rand.NewPCG(k, 5))
		model := newPrefixModel(nblocks, bs)
		var applied []wop
		var maybe *wop
		durable := 0
		for _, o := range ops {
			err := o.apply(d)
			if err == nil {
				applied = append(applied, o)
				model.add(o)
				if o.durable() {
					durable = len(applied)
				}
			} else {
				require.ErrorIs(t, err, blockdev.ErrInjected, "op %v with fault at %d", o, k)
				maybe = &o
				break
			}
			// Reads see exactly the applied operations.
			nb := 1 + rng.Int64N(4)
			lb := rng.Int64N(nblocks - nb + 1)
			buf := blockdev.AlignedBuffer(int(nb*bs), d.Limits().MemAlign)
			if _, err := d.ReadAt(buf, lb*bs); err != nil {
				require.ErrorIs(t, err, blockdev.ErrInjected)
				continue
			}
			// A failed operation may or may not show (its commit may have
			// succeeded before its flush failed); nothing else may.
			cur := model.states[len(model.states)-1]
			for b := range nb {
				ok := false
				for _, id := range []uint64{cur[lb+b], maybeID(maybe, lb+b, bs)} {
					want := make([]byte, bs)
					if id != 0 {
						crashmodel.Fill(want, id, (lb+b)*bs)
					}
					ok = ok || bytes.Equal(want, buf[b*bs:(b+1)*bs])
				}
				require.True(t, ok, "fault at %d: block %d holds data of no applied write", k, lb+b)
			}
		}
		require.NoError(t, d.checkInvariants())
		hi := len(applied)
		if maybe != nil {
			refused++
			model.add(*maybe)
			hi++
			require.NoError(t, d.Flush(), "the device works again after the fault at %d", k)
			require.NoError(t, d.checkInvariants())
			durable = len(applied)
			_, err = model.match(d, len(applied), hi)
			require.NoError(t, err, "after recovering from the fault at %d", k)
		} else {
			kept++
		}
		// Restart without power loss: everything applied is there.
		d2, err := Open(mem, Options{})
		require.NoError(t, err, "reopen after fault at %d", k)
		_, err = model.match(d2, len(applied), hi)
		require.NoError(t, err, "reopen after fault at %d", k)
		// And after a power cut: everything durable is there.
		d3, err := Open(mem.CrashClone(blockdev.CrashConfig{Seed: k, Survive: 0.5}), Options{})
		require.NoError(t, err, "crash after fault at %d", k)
		_, err = model.match(d3, durable, hi)
		require.NoError(t, err, "crash after fault at %d", k)
	}
	t.Logf("fault indexes checked: %d (an operation failed and the device recovered: %d, the fault hit nothing that failed: %d)", checked, refused, kept)
}

// TestFaultDuringOpen fails each inner operation of Open in turn: Open
// reports the error, and a later Open recovers the same state.
func TestFaultDuringOpen(t *testing.T) {
	ops, model, _, _ := crashWorkload(t, 8)
	mem := newSmallMem(t)
	var at progress
	d := runWorkload(t, mem, ops, &at)
	require.NoError(t, d.Flush())
	want, err := owners(d)
	require.NoError(t, err)
	_ = model
	for k := uint64(0); ; k++ {
		fd := blockdev.WithFaults(mem, blockdev.AtIndex(k, blockdev.ErrInjectedEIO))
		d, err := Open(fd, Options{})
		if err == nil && fd.Ops() <= k {
			t.Logf("Open fault indexes checked: %d", k)
			return
		}
		if err != nil {
			require.ErrorIs(t, err, blockdev.ErrInjected, "fault at %d", k)
		}
		d2, err := Open(mem, Options{})
		require.NoError(t, err, "open after fault at %d", k)
		got, err := owners(d2)
		require.NoError(t, err)
		require.True(t, slices.Equal(want, got), "fault at %d changed the state", k)
		_ = d
	}
}

// maybeID is the id o wrote block b with, or 0.
func maybeID(o *wop, b, bs int64) uint64 {
	if o == nil {
		return 0
	}
	for _, p := range o.pieces {
		if b*bs >= p.Off && b*bs < p.Off+int64(len(p.Data)) {
			return o.id
		}
	}
	return 0
}

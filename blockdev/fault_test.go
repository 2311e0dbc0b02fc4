package blockdev_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// workload runs a fixed sequence of operations and returns the first error.
func workload(d blockdev.Device) (int, error) {
	buf := blockdev.AlignedBuffer(16<<10, d.Limits().MemAlign)
	ops := []func() error{
		func() error { _, err := d.WriteAt(buf, 0, 0); return err },
		func() error { _, err := d.WriteAt(buf, 16<<10, blockdev.Atomic); return err },
		func() error { _, err := d.ReadAt(buf, 0); return err },
		d.Flush,
		func() error { _, err := d.WriteAt(buf[:4096], 32<<10, blockdev.FUA); return err },
		d.Flush,
	}
	for i, op := range ops {
		if err := op(); err != nil {
			return i, err
		}
	}
	return len(ops), nil
}

func TestFaultAtEveryIndex(t *testing.T) {
	newMem := func() *blockdev.Mem {
		m, err := blockdev.NewMem(64<<10, blockdev.LimitsXFS)
		require.NoError(t, err)
		return m
	}
	counter := blockdev.WithFaults(newMem(), nil)
	done, err := workload(counter)
	require.NoError(t, err)
	total := counter.Ops()
	require.EqualValues(t, done, total)

	for i := range total {
		for _, injected := range []error{blockdev.ErrInjectedEIO, blockdev.ErrInjectedENOSPC} {
			m := newMem()
			d := blockdev.WithFaults(m, blockdev.AtIndex(i, injected))
			failedAt, err := workload(d)
			require.EqualValues(t, i, failedAt, "the error surfaces at the injected op")
			require.ErrorIs(t, err, blockdev.ErrInjected)
			require.ErrorIs(t, err, injected)
			var oe *blockdev.OpError
			require.True(t, errors.As(err, &oe))
			// A failed op did nothing: the inner device saw exactly the ops before it.
			s := m.Stats()
			require.EqualValues(t, i, s.Reads+s.Writes+s.Flushes)
		}
	}
}

func TestFaultErrorsWrapErrno(t *testing.T) {
	require.ErrorIs(t, blockdev.ErrInjectedEIO, syscall.EIO)
	require.ErrorIs(t, blockdev.ErrInjectedENOSPC, syscall.ENOSPC)
	require.NotErrorIs(t, blockdev.ErrInjectedEIO, syscall.ENOSPC)
}

func TestFaultOnlyKindsAndAny(t *testing.T) {
	m, err := blockdev.NewMem(64<<10, blockdev.LimitsXFS)
	require.NoError(t, err)
	flushes := blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedEIO), blockdev.OpFlush)
	atomics := blockdev.OnlyKinds(blockdev.FromIndex(0, blockdev.ErrInjectedENOSPC), blockdev.OpAtomicWrite)
	d := blockdev.WithFaults(m, blockdev.Any(flushes, atomics))
	buf := blockdev.AlignedBuffer(4096, 512)
	_, err = d.WriteAt(buf, 0, 0)
	require.NoError(t, err)
	_, err = d.ReadAt(buf, 0)
	require.NoError(t, err)
	_, err = d.WriteAt(buf, 0, blockdev.Atomic)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorIs(t, d.Flush(), syscall.EIO)
	d.SetInjector(nil)
	require.NoError(t, d.Flush())
}

func TestFaultRandomlyIsDeterministic(t *testing.T) {
	pattern := func(seed uint64) []bool {
		inj := blockdev.Randomly(0.3, seed, blockdev.ErrInjectedEIO)
		out := make([]bool, 200)
		for i := range out {
			out[i] = inj.MaybeError(blockdev.Op{Index: uint64(i)}) != nil
		}
		return out
	}
	a := pattern(7)
	require.Equal(t, a, pattern(7))
	require.NotEqual(t, a, pattern(8))
	n := 0
	for _, hit := range a {
		if hit {
			n++
		}
	}
	require.InDelta(t, 60, n, 30, "about 30%% of 200 operations fail")
}

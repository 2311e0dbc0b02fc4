package untornvfs

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// failedCommit runs ten bank transactions, then the eleventh with
// CommitAtomicWrite failing (failErr), cutting the power before every
// operation of that failed transaction and checking that each image holds
// exactly ten, then, with the fault gone, the eleventh again. It returns
// the COMMIT's error and the images that held something else.
func failedCommit(t *testing.T, cfg machineConfig, failErr error) (commitErr error, ops, images int, bad []error) {
	m, name, unregister := newMachine(t, nil, cfg)
	defer unregister()
	db := openBank(t, name)
	defer db.Close()
	k := bank{seed: 11}
	for i := 1; i <= 10; i++ {
		require.NoError(t, db.Exec(k.txSQL(i)))
	}

	m.vfs.failCommit = func() error { return failErr }
	m.arm(3, func(int) bool { return true }, func(img *machineImage) {
		images++
		if err := checkImage(t, k, img, 10, 10, 0, func(int) bool { return false }, nil); err != nil {
			bad = append(bad, fmt.Errorf("cut before operation %d: %w", img.op, err))
		}
	})
	before := m.opCount()
	commitErr = db.Exec(k.txSQL(11))
	ops = m.opCount() - before
	m.disarm()
	if !db.GetAutocommit() {
		require.NoError(t, db.Exec("ROLLBACK"))
	}
	if commitErr != nil {
		got, h, err := readBank(db)
		require.NoError(t, err)
		require.Equal(t, 10, h, "a failed COMMIT left its transaction visible")
		require.NoError(t, k.expected(10).compare(got))
	}

	m.vfs.failCommit = nil
	if commitErr != nil {
		require.NoError(t, db.Exec(k.txSQL(11)), "the transaction runs again once the fault is gone")
	}
	got, h, err := readBank(db)
	require.NoError(t, err)
	require.Equal(t, 11, h)
	require.NoError(t, k.expected(11).compare(got))
	requireIntegrity(t, db)
	return commitErr, ops, images, bad
}

// TestFailedCommitWritesNothing: a CommitAtomicWrite that fails fails the
// COMMIT with a code outside the IOERR class (SQLITE_ERROR, or
// SQLITE_FULL for no space), and nothing reaches the device or a journal
// (not one write, flush or journal operation), so a crash then finds the
// database as before; the transaction runs again once the fault is gone.
func TestFailedCommitWritesNothing(t *testing.T) {
	for _, mode := range crashModes {
		for _, tc := range []struct {
			fault error
			code  sqlite3.ErrorCode
		}{
			{fmt.Errorf("injected: %w", syscall.EIO), sqlite3.ERROR},
			{fmt.Errorf("injected: %w", syscall.ENOSPC), sqlite3.FULL},
		} {
			t.Run(mode.String()+"/"+tc.code.Error(), func(t *testing.T) {
				err, ops, _, bad := failedCommit(t, machineConfig{mode: mode}, tc.fault)
				require.Error(t, err, "the COMMIT must fail")
				require.ErrorIs(t, err, tc.code, "got %v", err)
				require.False(t, errors.Is(err, sqlite3.IOERR), "an IOERR makes SQLite fall back to an unsynced journal: %v", err)
				require.Zero(t, ops, "the failed COMMIT wrote to the device or a journal")
				require.Empty(t, bad)
				t.Logf("COMMIT: %v; no write, flush or journal operation during it", err)
			})
		}
	}
}

// TestFailedCommitAsIOERRTears is the control: reported as SQLITE_IOERR,
// the same failure makes SQLite write its journal without syncing it and
// the pages in place (pager.c), so on a file whose writes reach the device
// one by one some crash image during that COMMIT holds a torn transaction.
func TestFailedCommitAsIOERRTears(t *testing.T) {
	for _, mode := range crashModes {
		t.Run(mode.String(), func(t *testing.T) {
			err, _, images, bad := failedCommit(t, machineConfig{mode: mode, ioerrCommit: true, writeThrough: true}, fmt.Errorf("injected: %w", syscall.EIO))
			t.Logf("COMMIT: %v; %d crash images during it, %d broken; first: %v", err, images, len(bad), errors.Join(bad[:min(1, len(bad))]...))
			require.NoError(t, err, "SQLite took its journal fallback and committed")
			require.NotEmpty(t, bad, "the fallback after an IOERR should be seen tearing")
		})
	}
}

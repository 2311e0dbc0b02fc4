package untornvfs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// TestTransientFaultDuringCommit fails, once, the j-th device write or
// flush of one transaction's commit, for every j the commit makes, with
// ENOSPC and with EIO, and then lets the device work again. The COMMIT may
// fail; the transaction is then whole or absent, never torn, and SQLite
// can run it again. The transactions after it commit, and after a power
// cut the database holds every one of them. In both modes.
func TestTransientFaultDuringCommit(t *testing.T) {
	for _, mode := range crashModes {
		t.Run(mode.String(), func(t *testing.T) { transientFaultDuringCommit(t, mode) })
	}
}

func transientFaultDuringCommit(t *testing.T, mode atomicio.Mode) {
	k := bank{seed: 21}
	const before, after = 10, 5

	// How many device writes and flushes the commit of transaction
	// before+1 makes.
	m, name, unregister := newMachine(t, nil, machineConfig{mode: mode})
	db := openBank(t, name)
	for i := 1; i <= before; i++ {
		require.NoError(t, db.Exec(k.txSQL(i)))
	}
	start := m.opCount()
	require.NoError(t, db.Exec(k.txSQL(before+1)))
	commitOps := m.opCount() - start
	require.NoError(t, db.Close())
	unregister()
	require.Positive(t, commitOps)

	failed, visible := 0, 0
	for _, fault := range []error{blockdev.ErrInjectedENOSPC, blockdev.ErrInjectedEIO} {
		for j := range commitOps {
			m, name, unregister := newMachine(t, nil, machineConfig{mode: mode})
			db := openBank(t, name)
			for i := 1; i <= before; i++ {
				require.NoError(t, db.Exec(k.txSQL(i)))
			}
			countdown := j
			m.setFault(func(blockdev.Op) error {
				countdown--
				if countdown == -1 {
					return fault
				}
				return nil
			})
			err := db.Exec(k.txSQL(before + 1))
			m.setFault(nil)
			if err != nil {
				failed++
				if !db.GetAutocommit() {
					require.NoError(t, db.Exec("ROLLBACK"))
				}
				got, h, rerr := readBank(db)
				require.NoError(t, rerr, "fault %d (%v): %v", j, fault, err)
				require.Contains(t, []int{before, before + 1}, h, "fault %d: the failed transaction is torn", j)
				require.NoError(t, k.expected(h).compare(got), "fault %d", j)
				if h == before+1 {
					visible++ // it failed to sync, but its batch was in; a later Sync makes it durable
				} else {
					require.NoError(t, db.Exec(k.txSQL(before+1)), "fault %d: running it again", j)
				}
			}
			for i := before + 2; i <= before+1+after; i++ {
				require.NoError(t, db.Exec(k.txSQL(i)), "fault %d: transaction %d after the fault", j, i)
			}
			img := m.powerCut()
			require.NoError(t, checkImage(t, k, img, before+1+after, before+1+after, 0, func(int) bool { return false }, nil), "fault %d (%v)", j, fault)
			require.NoError(t, db.Close())
			unregister()
		}
	}
	t.Logf("%d faults (%d device operations per commit, ENOSPC and EIO): %d COMMITs failed, %d of those visible afterwards; every power cut afterwards holds all %d transactions",
		2*commitOps, commitOps, failed, visible, before+1+after)
	require.Positive(t, failed, "no fault reached the COMMIT")
}

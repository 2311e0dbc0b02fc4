package untornvfs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/testsize"
)

// crashRun describes one crash test run of the bank.
type crashRun struct {
	mode         atomicio.Mode // ModeCOW or ModeJournal
	seed         uint64
	txs          int               // transactions in the workload
	cutAt        func(op int) bool // which operations the power is cut before
	plainBatches bool              // the negative control's VFS
	// lyingDataFlush: journal mode's negative control (machineConfig).
	lyingDataFlush bool
	// recoveryOneIn: one image in this many is first recovered with the
	// power cut again at a random operation of the recovery (and of that
	// recovery, one in this many again).
	recoveryOneIn int
	// untilFailure stops cutting after the first failure (the negative
	// control needs one).
	untilFailure bool
}

// crashTally counts what a run checked.
type crashTally struct {
	images       int // crash images checked (cuts in the workload and in recoveries)
	recoveryCuts int // of those, cuts inside a recovery
	failures     int
	integrity    int   // of the failures, those integrity_check (or opening) found
	first        error // the first failure
	batches      int64 // atomic writes the workload committed
	auxOpens     int64 // journal files the workload opened
	checkpoints  int64 // journal mode: checkpoints of the workload (pages written home)
}

// runBankCrash runs the bank workload on a new machine, cutting the power
// where run.cutAt says (the final Close, which in journal mode writes
// everything home, included), and checks every image: it opens (atomicio
// recovers, SQLite rolls a hot journal back), PRAGMA integrity_check says
// ok, and it holds the first h transactions exactly, where h is every
// transaction whose COMMIT returned before the cut, or that and the one in
// flight.
func runBankCrash(t *testing.T, run crashRun) crashTally {
	var tally crashTally
	m, name, unregister := newMachine(t, nil, machineConfig{mode: run.mode, plainBatches: run.plainBatches, lyingDataFlush: run.lyingDataFlush})
	defer unregister()
	db := openBank(t, name)

	var committed atomic.Int64
	k := bank{seed: run.seed}
	rng := rand.New(rand.NewPCG(run.seed, 0xc0ffee))
	cutAt := run.cutAt
	if run.untilFailure {
		cutAt = func(op int) bool { return tally.failures == 0 && run.cutAt(op) }
	}
	m.arm(run.seed, cutAt, func(img *machineImage) {
		tally.check(t, k, img, int(committed.Load()), run.recoveryOneIn, rng, 0)
	})
	for i := 1; i <= run.txs; i++ {
		require.NoError(t, db.Exec(k.txSQL(i)), "transaction %d", i)
		committed.Store(int64(i))
	}
	st := m.vfs.fileStats()
	require.NoError(t, db.Close())
	m.disarm()
	require.Equal(t, m.mode, st.Mode)
	if m.mode == atomicio.ModeJournal && !run.plainBatches && !run.lyingDataFlush {
		// After Close the data device alone holds the database, durably:
		// open what a power cut now leaves of it with an empty journal.
		jmem, err := blockdev.NewMem(machineJournalDevice, machineLimits)
		require.NoError(t, err)
		home := &machineImage{op: -1, mode: m.mode, mem: m.mem.CrashClone(blockdev.CrashConfig{}), jmem: jmem, dir: m.dir.image(nil, 0)}
		require.NoError(t, checkImage(t, k, home, run.txs, run.txs, 0, func(int) bool { return false }, nil),
			"after Close the data device alone (durable part, no journal) must hold every transaction")
	}
	s := m.vfs.Stats()
	tally.batches, tally.auxOpens, tally.checkpoints = s.Batches, s.AuxOpens, st.Journal.Checkpoints
	return tally
}

// check checks one image, first (one time in recoveryOneIn) cutting the
// power inside its recovery and checking that image too.
func (tally *crashTally) check(t *testing.T, k bank, img *machineImage, committed, recoveryOneIn int, rng *rand.Rand, depth int) {
	tally.images++
	if depth > 0 {
		tally.recoveryCuts++
	}
	var nested *machineImage
	cutAt := func(int) bool { return false }
	if recoveryOneIn > 0 && depth < 2 && rng.IntN(recoveryOneIn) == 0 {
		at := rng.IntN(12)
		cutAt = func(op int) bool { return op == at }
	}
	err := checkImage(t, k, img, committed, committed+1, rng.Uint64(), cutAt, func(n *machineImage) { nested = n })
	if err != nil {
		tally.failures++
		if errors.Is(err, errIntegrity) {
			tally.integrity++
		}
		if tally.first == nil {
			tally.first = fmt.Errorf("cut before operation %d (recovery depth %d), %d transactions committed: %w", img.op, depth, committed, err)
		}
	}
	if nested != nil {
		tally.check(t, k, nested, committed, recoveryOneIn, rng, depth+1)
	}
}

// errIntegrity marks a failure SQLite itself found: the image does not
// open or PRAGMA integrity_check does not say ok.
var errIntegrity = errors.New("integrity_check failed")

// checkImage recovers img on a machine of its own, cutting the power there
// where cutAt says, and checks the bank it holds: the first h transactions
// of k exactly, lo <= h <= hi.
func checkImage(t *testing.T, k bank, img *machineImage, lo, hi int, seed uint64, cutAt func(int) bool, onCut func(*machineImage)) error {
	m, name, unregister := newMachine(t, img, machineConfig{})
	defer unregister()
	m.arm(seed, cutAt, onCut)
	defer m.disarm()
	db, err := sqlite3.Open(fmt.Sprintf("file:bank.db?vfs=%s", name))
	if err != nil {
		return fmt.Errorf("%w: open: %w", errIntegrity, err)
	}
	defer db.Close()
	integrity, err := queryStrings(db, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("%w: %w", errIntegrity, err)
	}
	if len(integrity) != 1 || integrity[0] != "ok" {
		return fmt.Errorf("%w: %v", errIntegrity, integrity)
	}
	got, h, err := readBank(db)
	if err != nil {
		return err
	}
	if h < lo || h > hi {
		return fmt.Errorf("holds %d transactions, want %d to %d", h, lo, hi)
	}
	return k.expected(h).compare(got)
}

// crashModes are the modes the crash tests run the VFS in.
var crashModes = []atomicio.Mode{atomicio.ModeJournal, atomicio.ModeCOW}

// TestBankCrashAtEveryOperation runs bank workloads of 100
// transactions (synchronous=FULL, journal_mode=DELETE) per mode, journal
// (the default: two Mems, the data file's and the journal's, cut at one
// instant, tearing at 512 bytes; the journal small enough to be
// checkpointed every few transactions) and COW, and cuts the power before
// every device write and flush and every SQLite journal write, truncate,
// sync and delete of each, the final Close included; one image in four is
// first recovered with the power cut again inside the recovery (atomicio's
// replay or container recovery, and SQLite's hot-journal rollback),
// sometimes twice. One workload (seed 0) per mode by default, 8 with
// UNTORN_LONG=1 (internal/testsize).
func TestBankCrashAtEveryOperation(t *testing.T) {
	seeds := testsize.Pick(1, 8)
	for _, mode := range crashModes {
		t.Run(mode.String(), func(t *testing.T) {
			var mu sync.Mutex
			var total crashTally
			t.Run("seeds", func(t *testing.T) {
				for seed := range seeds {
					t.Run(fmt.Sprint(seed), func(t *testing.T) {
						t.Parallel()
						tally := runBankCrash(t, crashRun{mode: mode, seed: uint64(seed), txs: 100, cutAt: func(int) bool { return true }, recoveryOneIn: 4})
						t.Logf("%d images (%d cut inside a recovery), %d failures; workload: %d batches, %d journal opens, %d checkpoints",
							tally.images, tally.recoveryCuts, tally.failures, tally.batches, tally.auxOpens, tally.checkpoints)
						require.NoError(t, tally.first)
						require.Greater(t, tally.batches, int64(80), "most transactions commit with a batch")
						require.GreaterOrEqual(t, tally.auxOpens, int64(3), "big transactions take the journal")
						if mode == atomicio.ModeJournal {
							require.GreaterOrEqual(t, tally.checkpoints, int64(5), "the workload writes pages home many times")
						}
						mu.Lock()
						defer mu.Unlock()
						total.images += tally.images
						total.recoveryCuts += tally.recoveryCuts
					})
				}
			})
			t.Logf("%v: %d crash images checked, %d of them cut inside a recovery, 0 failures", mode, total.images, total.recoveryCuts)
		})
	}
}

// TestBankCrashCatchesPlainBatches is the negative control: a VFS that
// claims IOCAP_BATCH_ATOMIC but writes each page on its own (untorn, even
// durable at once) must fail the same check, in most workloads, in every
// mode.
func TestBankCrashCatchesPlainBatches(t *testing.T) {
	for _, mode := range crashModes {
		t.Run(mode.String(), func(t *testing.T) {
			requireCaught(t, crashRun{mode: mode, plainBatches: true}, 5)
		})
	}
}

// TestBankCrashCatchesLyingDataFlush is journal mode's negative control:
// a data device whose Flush does nothing lets a checkpoint free journal
// space before the pages it wrote home are durable (the order rule the
// journal keeps), and the crash test must see transactions lost.
func TestBankCrashCatchesLyingDataFlush(t *testing.T) {
	requireCaught(t, crashRun{mode: atomicio.ModeJournal, lyingDataFlush: true}, 3)
}

// requireCaught runs a broken VFS or machine (run) over runs workloads of
// 15 transactions (40 with lyingDataFlush, which needs checkpoints),
// cutting at every operation, and requires all of them but one to fail the
// check.
// Each workload stops at its first failure, but for the first one with
// UNTORN_LONG=1, which is checked whole, to count.
func requireCaught(t *testing.T, run crashRun, runs int) {
	run.txs = 15
	if run.lyingDataFlush {
		run.txs = 40
	}
	run.cutAt = func(int) bool { return true }
	caught := 0
	for seed := range runs {
		run.seed, run.untilFailure = uint64(seed), seed > 0 || !testsize.Long()
		tally := runBankCrash(t, run)
		t.Logf("seed %d: %d images, %d failures (%d by integrity_check); first: %v", seed, tally.images, tally.failures, tally.integrity, tally.first)
		if tally.failures > 0 {
			caught++
		}
	}
	require.GreaterOrEqual(t, caught, runs-1, "the crash test cannot tell the broken VFS (%v)", run.mode)
}

package torture

import (
	"math/rand/v2"
	"testing"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/journal"
)

// TestJournalProfilesWrap: the journal of a journal profile is small
// enough that a case's workload fills it (a commit waits for a checkpoint:
// the ring wraps and space freed by a checkpoint is reused) in most cases,
// so the campaigns cut, fault and damage a journal that wraps, not only
// one that is written once from its start.
func TestJournalProfilesWrap(t *testing.T) {
	const cases = 20
	for _, p := range Profiles() {
		if !p.Journal() || p.Hybrid() { // (the hybrid's units in place leave the journal room)
			continue
		}
		full := 0
		for seed := range uint64(cases) {
			st := workloadJournalStats(t, p, seed)
			t.Logf("%s seed %d: %d records, %d KiB, %d checkpoints, %d room waits", p.Name, seed, st.Records, st.RecordBytes>>10, st.Checkpoints, st.RoomWaits)
			if st.RoomWaits > 0 {
				full++
			}
		}
		if full < cases/2 {
			t.Errorf("%s: the journal filled in %d of %d workloads, want at least half", p.Name, full, cases)
		}
	}
}

// newTestExecutor opens a File on a new machine of profile p and returns
// the machine, the File and an executor over it with a new model.
func newTestExecutor(t *testing.T, p Profile) (machine, *atomicio.File, *executor) {
	mach, err := p.newMachine()
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.open(mach, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mach, f, &executor{f: f, m: NewModel(f.Size()), p: p}
}

// workloadJournalStats runs the workload of seed on a new machine of
// journal profile p, closes the File and returns its journal's counters.
func workloadJournalStats(t *testing.T, p Profile, seed uint64) journal.Stats {
	_, f, x := newTestExecutor(t, p)
	if err := x.run(genWorkload(rand.New(rand.NewPCG(seed, 1)), f.Size(), p.Options.MaxAtomic)); err != nil {
		t.Fatal(err)
	}
	if err := x.close(); err != nil {
		t.Fatal(err)
	}
	return f.Stats().Journal
}

// TestHybridProfilesTakeBothPaths: the workloads of a hybrid profile write
// units in place and through the journal, so that its campaigns cut,
// fault and damage both paths.
func TestHybridProfilesTakeBothPaths(t *testing.T) {
	const cases = 8
	hybrids := 0
	for _, p := range Profiles() {
		if !p.Hybrid() {
			continue
		}
		hybrids++
		both := 0
		for seed := range uint64(cases) {
			st := workloadJournalStats(t, p, seed)
			t.Logf("%s seed %d: %d units (%d KiB) in place, %d KiB in records", p.Name, seed, st.InPlaceWrites, st.InPlaceBytes>>10, st.RecordBytes>>10)
			if st.InPlaceWrites > 0 && st.RecordBytes > 0 {
				both++
			}
		}
		if both < cases/2 {
			t.Errorf("%s: both paths in %d of %d workloads, want at least half", p.Name, both, cases)
		}
	}
	if hybrids == 0 {
		t.Error("no hybrid profile")
	}
}

// TestTransientFaultsReachBothDevices: the transient campaign numbers the
// operations of a journal profile's two devices together, so its faults
// land on the data device and on the journal: failing each index of a
// workload in turn hits both.
func TestTransientFaultsReachBothDevices(t *testing.T) {
	ps, err := SelectProfiles([]string{"none-journal"})
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	size, err := p.fileSize()
	if err != nil {
		t.Fatal(err)
	}
	steps := genWorkload(rand.New(rand.NewPCG(5, 1)), size, p.Options.MaxAtomic)
	c := &caseRun{Profile: p, rng: rand.New(rand.NewPCG(5, 2))}
	total, err := c.countAllOps(steps)
	if err != nil {
		t.Fatal(err)
	}
	hits := map[int]int{}
	for i := range total {
		mach, err := p.newMachine()
		if err != nil {
			t.Fatal(err)
		}
		seq := &opSeq{fault: blockdev.ErrInjectedEIO}
		f, err := p.open(mach, seq)
		if err != nil {
			t.Fatal(err)
		}
		seq.failAt(seq.ops() + i)
		x := &executor{f: f, m: NewModel(f.Size()), p: p, tolerate: isInjected}
		if err := x.run(steps); err != nil {
			t.Fatalf("I/O %d: %v", i, err)
		}
		_ = f.Abandon()
		if _, dev, ok := seq.hit(); ok {
			hits[dev]++
		}
	}
	t.Logf("%d I/Os: faults on the data device %d, on the journal %d", total, hits[0], hits[1])
	if hits[0] == 0 || hits[1] == 0 || hits[0]+hits[1] != int(total) {
		t.Errorf("%d I/Os: faults on the data device %d, on the journal %d; want both, all hit", total, hits[0], hits[1])
	}
}

// TestJournalNegativeControlStaleJournal: the checks see journal mode's
// promises through both devices. A machine image whose journal is older
// than its data device (the journal as of the first Sync, the data device
// as of the second: a power cut that did not take both at one instant)
// loses the second Sync's writes, which live only in the journal until a
// checkpoint: the Checker must report them Lost. The same image with the
// journal cut at the same instant keeps every promise.
func TestJournalNegativeControlStaleJournal(t *testing.T) {
	ps, err := SelectProfiles([]string{"none-journal", "nvme-journal"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		mach, f, x := newTestExecutor(t, p)
		// Two Syncs of 16 KiB each: far from filling the journal, so
		// nothing goes home before the cut.
		first := []step{{kind: opUntorn, off: 0, n: 16 << 10}, {kind: opSync}}
		second := []step{{kind: opUntorn, off: 32 << 10, n: 16 << 10}, {kind: opSync}}
		if err := x.run(first); err != nil {
			t.Fatal(err)
		}
		old := mach.cut(blockdev.CrashConfig{})
		if err := x.run(second); err != nil {
			t.Fatal(err)
		}
		now := mach.cut(blockdev.CrashConfig{})
		st := f.Stats().Journal
		_ = f.Abandon()
		if st.Checkpoints != 0 {
			t.Fatalf("%s: %d checkpoints: the control needs the data in the journal only", p.Name, st.Checkpoints)
		}
		c := &caseRun{Profile: p}
		if err := c.checkImage(now.copy(), x.m, x.m.Snapshot()); err != nil {
			t.Errorf("%s: data device and journal cut at one instant: %v", p.Name, err)
		}
		stale := machine{now.data(), old.journal()}
		err = c.checkImage(stale, x.m, x.m.Snapshot())
		if ClassOf(err) != Lost {
			t.Errorf("%s: the journal of the first Sync with the data device of the second: %v, want a Lost violation", p.Name, err)
		}
	}
}

package torture

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/untorn/untorn/internal/testsize"
)

// runCampaign runs cases of one campaign on every profile it applies to,
// with fixed seeds, and fails the test for every failure found: one case
// per profile in the default run, long cases with UNTORN_LONG=1
// (internal/testsize).
func runCampaign(t *testing.T, name string, long int64) *Report {
	t.Helper()
	cs, err := SelectCampaigns([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	cases := testsize.Pick(1, long)
	rep, err := Run(context.Background(), RunConfig{Campaigns: cs, Profiles: Profiles(), Seed: 1, Cases: cases})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := rep.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", sb.String())
	for _, f := range rep.Failures() {
		t.Errorf("%v\n    replay: %s", f, f.Replay())
	}
	if n := rep.Total().Failed(); n > 0 {
		t.Errorf("%d failures in all", n)
	}
	return rep
}

// TestCrash: power cuts at device writes of random workloads, on every
// profile: every image keeps every promise.
func TestCrash(t *testing.T) {
	rep := runCampaign(t, "crash", 12)
	for _, p := range Profiles() {
		if st := rep.Get("crash", p.Name); st.Crashes == 0 || st.Checks == 0 {
			t.Errorf("%s: no crash image was checked: %+v", p.Name, st)
		}
	}
}

// TestAftercrash: a power cut, recovery, a second workload on the
// recovered file and power cuts again: every image keeps the promises of
// the second workload over what the recovery found.
func TestAftercrash(t *testing.T) {
	rep := runCampaign(t, "aftercrash", 6)
	if st := rep.Total(); st.Crashes == 0 || st.Checks == 0 {
		t.Errorf("no crash image was checked: %+v", st)
	}
}

// TestRecovery: up to three power cuts during recovery, on the COW and
// journal profiles: the final image keeps the promises of the first cut.
func TestRecovery(t *testing.T) {
	rep := runCampaign(t, "recovery", 6)
	for _, p := range Profiles() {
		if st := rep.Get("recovery", p.Name); p.Logged() && st.RecoveryCrashes == 0 {
			t.Errorf("%s: no power cut during recovery: %+v", p.Name, st)
		}
	}
}

// TestRecoveryKnownChains replays cases that once found a container
// unopenable after three power cuts during recovery ("checkpoint
// generation 2 does not match the superblock (4)"): each must recover. The
// seeds name those histories only as long as the workload generator stays
// as it is; they remain valid cases either way.
func TestRecoveryKnownChains(t *testing.T) {
	cs, err := SelectCampaigns([]string{"recovery"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		profile string
		seed    uint64
	}{{"xfs-cow", 61}, {"none-cow", 1031}, {"nvme-cow", 1767}} {
		ps, err := SelectProfiles([]string{k.profile})
		if err != nil {
			t.Fatal(err)
		}
		st, fails := cs[0].RunCase(ps[0], k.seed)
		if st.RecoveryCrashes == 0 {
			t.Errorf("%s seed %d: no power cut during recovery", k.profile, k.seed)
		}
		for _, f := range fails {
			t.Errorf("%v\n    replay: %s", f, f.Replay())
		}
	}
}

// TestTransient: one EIO or ENOSPC at one I/O (of the data device or the
// journal); afterwards Sync succeeds within a few tries and the image holds
// every synced write.
func TestTransient(t *testing.T) {
	rep := runCampaign(t, "transient", 6)
	for _, p := range Profiles() {
		if st := rep.Get("transient", p.Name); st.Faults == 0 {
			t.Errorf("%s: no fault was injected: %+v", p.Name, st)
		}
	}
}

// TestCorruption: one flipped bit of a synced COW image, or of the
// journal of a journal profile, gives ErrCorrupt or no harm.
func TestCorruption(t *testing.T) {
	rep := runCampaign(t, "corruption", 6)
	if st := rep.Total(); st.Corruptions == 0 {
		t.Errorf("no bit was flipped: %+v", st)
	}
}

// TestCaseDeterministic: a case replays exactly from its seed, in COW,
// native and journal mode.
func TestCaseDeterministic(t *testing.T) {
	ps, err := SelectProfiles([]string{"none-cow", "xfs-native", "none-journal"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Campaigns() {
		for _, p := range ps {
			if !c.Applies(p) {
				continue
			}
			a, fa := c.RunCase(p, 42)
			b, fb := c.RunCase(p, 42)
			a.Busy, b.Busy = 0, 0
			if a != b || len(fa) != len(fb) {
				t.Errorf("%s/%s: the same seed gave %+v (%d failures), then %+v (%d failures)", c.Name, p.Name, a, len(fa), b, len(fb))
			}
		}
	}
}

// TestRunStops: Run honours its duration and returns promptly.
func TestRunStops(t *testing.T) {
	cs, _ := SelectCampaigns([]string{"crash"})
	ps, _ := SelectProfiles([]string{"xfs-native"})
	start := time.Now()
	rep, err := Run(context.Background(), RunConfig{Campaigns: cs, Profiles: ps, Seed: 7, Duration: 200 * time.Millisecond, ProgressEvery: 50 * time.Millisecond,
		Progress: func(r *Report) { _ = r.ProgressLine() }})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Run took %v with a duration of 200ms", el)
	}
	if rep.Total().Cases == 0 {
		t.Error("no case ran")
	}
}

// TestSelect: unknown names are refused with ErrConfig.
func TestSelect(t *testing.T) {
	if _, err := SelectCampaigns([]string{"nope"}); err == nil {
		t.Error("SelectCampaigns accepted an unknown name")
	}
	if _, err := SelectProfiles([]string{"nope"}); err == nil {
		t.Error("SelectProfiles accepted an unknown name")
	}
	ps, err := SelectProfiles(nil)
	if err != nil || len(ps) != len(Profiles()) {
		t.Errorf("SelectProfiles(nil) = %d profiles, %v", len(ps), err)
	}
}

// TestNoGoroutineLeak: every File a case opens is closed or abandoned.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ps, err := SelectProfiles([]string{"none-cow", "xfs-native", "none-journal"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Campaigns() {
		for _, p := range ps {
			if c.Applies(p) {
				c.RunCase(p, 3)
			}
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before the cases, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

package torture

import (
	"errors"
	"testing"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
)

// Regression tests of what the corruption campaign found (corruption/none-journal
// seeds 50036 and 50173), fixed since: Format now writes both header copies
// and a header block that is not blank but holds no header is ErrCorrupt.
// Before the fix: Format writes only header copy 1 (write number
// 1 goes to copy 1%2); copy 0 stays zeros until the first checkpoint or
// reset writes it. One flipped bit in copy 1's magic then leaves no copy
// with the magic, and journal.Open reports ErrNotFormatted ("device is not
// formatted": a device that holds no journal) for a journal that holds
// synced records, instead of an error wrapping ErrCorrupt. Open fails, so
// nothing is lost silently, but the failure class is wrong: a caller or an
// operator told "not formatted" may take the journal for a blank one.

// TestJournalHeaderMagicFlipIsCorrupt: a synced write, a power cut, one
// flipped bit in the first byte of header copy 1 (the only copy written
// since Format): reopening must give the data back or fail with an error
// wrapping atomicio.ErrCorrupt.
func TestJournalHeaderMagicFlipIsCorrupt(t *testing.T) {
	ps, err := SelectProfiles([]string{"none-journal"})
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	mach, f, x := newTestExecutor(t, p)
	if err := x.run([]step{{kind: opUntorn, off: 0, n: 4096}, {kind: opSync}}); err != nil {
		t.Fatal(err)
	}
	img := mach.cut(blockdev.CrashConfig{}) // the power cut, right after the Sync
	_ = f.Abandon()
	const copy1 = 4096 // header copy 1: block 1 of the journal; its magic is its first 8 bytes
	if err := flipBit(img.journal(), copy1, 0); err != nil {
		t.Fatal(err)
	}
	c := &caseRun{Profile: p}
	data, err := c.readImage(img)
	switch {
	case errors.Is(err, atomicio.ErrCorrupt):
	case err != nil:
		t.Errorf("reopen after one flipped bit in the header's magic: %v; want an error wrapping ErrCorrupt (or the data back)", err)
	default:
		if err := c.checker.Check(x.m, x.m.Snapshot(), data); err != nil {
			t.Errorf("reopen after one flipped bit in the header's magic: no error, but %v", err)
		}
	}
}

// TestJournalKnownCorruptionCases replays the campaign's cases that found
// bugNotFormatted. The seeds name those histories only as long as the
// workload generator and the profile stay as they are; they remain valid
// cases either way.
func TestJournalKnownCorruptionCases(t *testing.T) {
	cs, err := SelectCampaigns([]string{"corruption"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := SelectProfiles([]string{"none-journal"})
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []uint64{50036, 50173} {
		_, fails := cs[0].RunCase(ps[0], seed)
		for _, f := range fails {
			t.Errorf("%v\n    replay: %s", f, f.Replay())
		}
	}
}

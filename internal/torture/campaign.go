package torture

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Campaign is one way of damaging a device, run case by case.
type Campaign struct {
	Name string
	// LogOnly: the campaign runs only on the profiles whose File keeps a
	// log with checksums, COW and journal (Profile.Logged); it means
	// nothing for a native file (see its doc).
	LogOnly bool
	// Doc says in one line what a case does.
	Doc string
	run func(c *caseRun) error
}

// Campaigns returns every campaign, in a fixed order.
func Campaigns() []Campaign {
	return []Campaign{
		{Name: "crash", Doc: "power cuts at device writes of a workload, several crash images per cut", run: runCrash},
		{Name: "aftercrash", Doc: "a power cut, recovery, then a second workload on the recovered file with power cuts again", run: runAftercrash},
		{Name: "recovery", LogOnly: true, Doc: "power cuts during recovery (COW, journal replay), up to three in a row (native recovery writes nothing)", run: runRecovery},
		{Name: "transient", Doc: "one EIO or ENOSPC at one I/O, then Sync must recover", run: runTransient},
		{Name: "corruption", LogOnly: true, Doc: "one flipped bit of a synced container or journal: ErrCorrupt or no harm (plain data has no checksums)", run: runCorruption},
	}
}

// CampaignNames returns the names of Campaigns, in order.
func CampaignNames() []string {
	var names []string
	for _, c := range Campaigns() {
		names = append(names, c.Name)
	}
	return names
}

// SelectCampaigns returns the campaigns with the given names, in the order
// given; no names means all of them.
func SelectCampaigns(names []string) ([]Campaign, error) {
	all := Campaigns()
	if len(names) == 0 {
		return all, nil
	}
	var out []Campaign
	for _, n := range names {
		found := false
		for _, c := range all {
			if c.Name == n {
				out, found = append(out, c), true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: campaign %q (have %s)", ErrConfig, n, strings.Join(CampaignNames(), ", "))
		}
	}
	return out, nil
}

// Applies reports whether the campaign runs on profile p.
func (c Campaign) Applies(p Profile) bool { return !c.LogOnly || p.Logged() }

// RunCase runs one case of the campaign on profile p with seed, and
// returns its counters and failures. The same arguments give the same case.
func (c Campaign) RunCase(p Profile, seed uint64) (Stats, []Failure) {
	cs := &caseRun{
		Campaign: c.Name,
		Profile:  p,
		Seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, nameHash(c.Name+"/"+p.Name))),
	}
	start := time.Now()
	if err := c.run(cs); err != nil {
		cs.fail(err)
	}
	cs.Stats.Cases++
	cs.Stats.Busy = time.Since(start)
	return cs.Stats, cs.Failures
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// caseRun is the state of one running case.
type caseRun struct {
	Campaign string // the campaign's name
	Profile  Profile
	Seed     uint64
	Stats    Stats     // what the case counted so far
	Failures []Failure // the first maxFailuresPerCase failures

	rng     *rand.Rand
	checker Checker
}

// maxFailuresPerCase bounds what one case reports: its first few failures
// tell the story; the counters still count all of them.
const maxFailuresPerCase = 4

// fail records err as a failure of the case.
func (c *caseRun) fail(err error) {
	cl := ClassOf(err)
	c.Stats.ByClass[cl]++
	if len(c.Failures) < maxFailuresPerCase {
		c.Failures = append(c.Failures, Failure{Campaign: c.Campaign, Profile: c.Profile.Name, Seed: c.Seed, Class: cl, Err: err})
	}
}

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }

// workload returns a random workload for the profile's file.
func (c *caseRun) workload() ([]step, error) {
	size, err := c.Profile.fileSize()
	if err != nil {
		return nil, err
	}
	return genWorkload(c.rng, size, c.Profile.Options.MaxAtomic), nil
}

package torture

// The aftercrash campaign: a workload cut at one random device write, the
// image reopened (recovered), read whole and checked, and what it holds
// taken as the baseline of a second workload on the recovered file, which
// is cut again just before up to crashPoints of its own device writes,
// crashConfigs images per cut. Each of those images must keep the promises
// of the second workload over that baseline: the writes of the life after
// the crash must never mix with what the first cut left behind (in a COW
// container or a journal, log records beyond the recovered end of the log
// from before the crash must stay dead, whatever the new records reuse;
// in a journal, the recovery's new generation must keep them so).

func runAftercrash(c *caseRun) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	cuts, m1, err := c.cutRun(nil, NewModel, steps, 1, 1)
	if err != nil {
		c.fail(err)
	}
	if len(cuts) == 0 {
		return nil
	}
	first := cuts[0]
	c.Stats.Crashes++
	c.Stats.Checks++
	base, err := c.readImage(first.img.copy())
	if err == nil {
		err = c.checker.Check(m1, first.snap, base)
	}
	if err != nil {
		return annotate(err, "power cut before device write %d", first.at)
	}
	more, err := c.workload()
	if err != nil {
		return err
	}
	model := func(int64) *Model { return NewModelFrom(base, m1.NextID()) }
	cuts2, m2, err := c.cutRun(first.img, model, more, crashPoints, crashConfigs)
	if err != nil {
		c.fail(annotate(err, "power cut before device write %d, then the recovered file", first.at))
	}
	for _, ct := range cuts2 {
		c.Stats.Crashes++
		if err := c.checkImage(ct.img, m2, ct.snap); err != nil {
			c.fail(annotate(err, "power cut before device write %d, recovered, then a power cut before device write %d", first.at, ct.at))
		}
	}
	return nil
}

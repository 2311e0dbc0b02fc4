package torture

// The crash campaign: a random workload on a new File, the power cut just
// before up to crashPoints of its device writes and flushes (all of them
// when there are fewer), crashConfigs crash images per cut (each with its
// own seed and chance of survival of the volatile writes), and every image
// reopened and checked against the promises in force at the cut.

const (
	crashPoints  = 8
	crashConfigs = 3
)

func runCrash(c *caseRun) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	cuts, m, err := c.cutRun(nil, NewModel, steps, crashPoints, crashConfigs)
	if err != nil {
		c.fail(err) // the images taken before the error are still worth checking
	}
	for _, ct := range cuts {
		c.Stats.Crashes++
		if err := c.checkImage(ct.img, m, ct.snap); err != nil {
			c.fail(annotate(err, "power cut before device write %d", ct.at))
		}
	}
	return nil
}

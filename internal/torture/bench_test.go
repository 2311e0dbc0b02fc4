package torture

import "testing"

// BenchmarkCampaign runs cases of each campaign on each profile it applies
// to and reports checks per second (one goroutine).
func BenchmarkCampaign(b *testing.B) {
	for _, c := range Campaigns() {
		b.Run(c.Name, func(b *testing.B) {
			var total Stats
			seed := uint64(0)
			for b.Loop() {
				for _, p := range Profiles() {
					if c.Applies(p) {
						st, _ := c.RunCase(p, seed)
						total.Add(st)
					}
				}
				seed++
			}
			b.ReportMetric(total.ChecksPerSecond(), "checks/s")
		})
	}
}

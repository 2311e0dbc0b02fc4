package torture

import "time"

// Stats are the counters of one or more cases.
type Stats struct {
	Cases           int64 // cases run
	Crashes         int64 // power cuts whose image was checked (recovery chains: the first cut)
	RecoveryCrashes int64 // power cuts during the recovery of an image
	Faults          int64 // transient faults injected (and reached)
	Corruptions     int64 // bits flipped
	Checks          int64 // images reopened and checked (or found corrupt) against the model

	// Outcomes of the corruption campaign.
	Detected int64 // an error wrapping atomicio.ErrCorrupt (blockdev.ErrCorrupt)
	Harmless int64 // the image still kept every promise

	// Failures by class.
	ByClass [numClasses]int64

	Busy time.Duration // time spent running the cases (summed over goroutines)
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Cases += o.Cases
	s.Crashes += o.Crashes
	s.RecoveryCrashes += o.RecoveryCrashes
	s.Faults += o.Faults
	s.Corruptions += o.Corruptions
	s.Checks += o.Checks
	s.Detected += o.Detected
	s.Harmless += o.Harmless
	for i := range s.ByClass {
		s.ByClass[i] += o.ByClass[i]
	}
	s.Busy += o.Busy
}

// Failed returns the number of failures of every class.
func (s Stats) Failed() int64 {
	var n int64
	for _, v := range s.ByClass {
		n += v
	}
	return n
}

// ChecksPerSecond returns the checks per second of busy time: the rate of
// one goroutine (one core, when the machine is otherwise idle).
func (s Stats) ChecksPerSecond() float64 {
	if s.Busy <= 0 {
		return 0
	}
	return float64(s.Checks) / s.Busy.Seconds()
}

// Failure is one failure found by a case: enough to replay it.
type Failure struct {
	Campaign string
	Profile  string
	Seed     uint64
	Class    Class
	Err      error
}

func (f Failure) Error() string {
	return f.Campaign + "/" + f.Profile + " seed " + uitoa(f.Seed) + ": " + f.Err.Error()
}

// Unwrap returns the failure's error.
func (f Failure) Unwrap() error { return f.Err }

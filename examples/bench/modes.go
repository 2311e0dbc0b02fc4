package main

import (
	"github.com/untorn/untorn/atomicio"
)

// untornMode is one way of running untorn that the multi-goroutine and
// multi-file workloads (committers, pg-checkpoint) compare, by contender
// name. Adding a mode (journal, say) is one line in untornModes.
type untornMode struct {
	name string
	mode atomicio.Mode
}

// untornModes are the untorn contenders of committers and pg-checkpoint:
// default Options (untorn-auto, which makes a new file a file in journal
// mode unless the hardware writes MaxAtomic untorn), and each mode forced.
var untornModes = []untornMode{
	{"untorn-auto", atomicio.ModeAuto},
	{"untorn-journal", atomicio.ModeJournal},
	{"untorn-native", atomicio.ModeNative},
	{"untorn-cow", atomicio.ModeCOW},
}

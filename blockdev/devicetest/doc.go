// Package devicetest is the contract test suite of blockdev.Device: any
// implementation runs it with Run and a constructor of fresh devices.
//
// It checks block and buffer alignment, every RWF_ATOMIC rule (each refused
// write must leave the device unchanged), read-your-writes, range checks,
// FUA and Flush, concurrent writers on disjoint ranges (run it with -race),
// and ErrClosed after Close.
package devicetest

// Package crashmodel is the oracle for the blockdev crash model: it records
// the writes and flushes a test sends to a Device and decides whether a
// device image found after a crash is one the model allows.
//
// The model (see blockdev.Device): a write is volatile until a later Flush
// completes, unless it had FUA; at a crash any subset of the volatile
// writes survives, applied in issue order; a plain write survives block by
// block, an Atomic write whole or not at all.
//
// Check attributes every block of the image to the write that produced it,
// so writes must carry data that is distinct per (write, block): Fill makes
// such data. With duplicate data the verdict may blame a write wrongly.
//
// A Model is not safe for concurrent use; it models one sequential history.
package crashmodel

// Package writeback turns the dirty folios of a pagecache.Cache, plus the
// side-car of untorn ranges (package extent), into device writes.
//
// # How a pass works
//
// A pass snapshots every dirty folio and untorn unit and groups those that
// overlap, transitively. Each group is written so that every unit in it
// reaches the device whole:
//
//   - native mode: a unit is the smallest naturally aligned power of two
//     covering the untorn write (at least the device's AtomicMin), written
//     in place with one blockdev.Atomic write, bytes around the write taken
//     from the cache or the device; dirty data outside units goes out in
//     plain writes; up to QueueDepth writes in flight. A unit inside one
//     folio is written from the folio's memory; any other is assembled in
//     a buffer of Config.Scratch, so unit buffers never take more memory
//     than the Scratch's size (groups that find it full wait for the next
//     pass, which Sync runs at once).
//   - COW mode (the device is a blockdev.BatchDevice): whole groups go out
//     as group commits, many groups per commit, straight from the folios'
//     memory: no buffer, no read (see groupAtomsLocked). Over a
//     blockdev.SizedDevice the engine also keeps the file size, and the
//     batches Commit put in the cache go first, each with everything dirty
//     that overlaps it and its cut, as one transaction; every transaction
//     carries the exact size the writes in it leave (see sized.go).
//
// The pass then flushes the device once and only then marks the folios
// clean and drops the units. Passes are serialised, so a unit in flight is
// never overtaken by a later write overlapping it: the later write is
// issued after the flush that made the unit durable.
//
// # Group commit
//
// Concurrent Syncs share passes (join.go): a Sync joins the pass under way
// when that pass's snapshot already holds every change made before the
// Sync began, and otherwise waits for the next pass, which the first such
// Sync leads (a pass of the flusher or of a writer that snapshots first
// takes the waiting Syncs over). Before it snapshots, a leader waits
// briefly for as many Syncs as the last pass carried (gather.go). All the
// Syncs of a pass return when it has ended, after its flush, with its
// error.
//
// # Guarantees
//
//   - Untorn: two untorn writes that overlap while dirty become one unit;
//     when the union would exceed what the device path writes untorn
//     (MaxUnit), the dirty units are written back first. A plain write
//     inside a dirty unit changes the unit's content and goes out with it.
//   - Sync: everything written before Sync began is durable when it
//     returns nil, whichever pass carried it; a Sync whose pass failed gets
//     that pass's error; no Sync returns before the flush of a pass that
//     held its writes (TestSyncsShareOnePass, and atomicio's racing crash
//     test with its negative control).
//   - Errors stick: a failed write or flush leaves the data dirty; Sync
//     reports an error wrapping the device's until the data is written.
//     Dirty data is never dropped.
//   - Errors are per group: a group that fails (its I/O, or the read of the
//     parts of a unit no dirty folio covers) stays dirty, and the pass still
//     writes and flushes every other group, which become durable and clean.
//     One bad block therefore holds back only the data that needs it. A
//     failed flush fails every group of its pass.
//   - Writers never wait for I/O on a folio under writeback: the cache
//     gives them a copy.
//
// # Caveats
//
// In native mode an untorn write must fit a naturally aligned power of two
// of at most the device's AtomicMax and the Scratch's size (an unaligned 16
// KiB write that crosses a 1 MiB boundary needs a 2 MiB unit); beyond it
// Write fails with ErrTooLarge. Native mode needs a device whose MemAlign
// is at most a page (folios are written in place). COW mode has no alignment needs. Folios under writeback stay
// in memory until the pass's flush returns.
//
// # Concurrency
//
// Every method of Engine is safe for concurrent use.
package writeback

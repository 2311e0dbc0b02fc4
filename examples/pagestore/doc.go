// Package pagestore is a small page-based key-value store that relies on
// untorn page writes instead of a doublewrite buffer or full-page images.
//
// # Layout
//
// The store lives in an atomicio.File cut into 16 KiB pages. Page 0 is
// the meta page: a generation, the number of keys, the high-water mark of
// pages in use and the head page of every hash bucket. Every other page
// belongs to one bucket's chain: a header (page number, bucket, next page,
// CRC-32C) and the bucket's entries, overflowing into further pages. A key
// lives in bucket FNV-1a(key) mod Buckets, chosen when the store is
// created.
//
// # Guarantees
//
// Put and Delete change memory only. Sync commits them with shadow paging
// and one untorn batch: the new contents of every changed bucket go to
// free pages (never to a page the committed meta page points at), and the
// meta page pointing at them is rewritten in place, all in one
// atomicio.Batch, which a single File Sync makes durable: the chains and
// the meta page land together or not at all, with one device flush per
// commit. Only then are the bucket's old pages free for reuse. A commit
// larger than the File's largest batch, or one native mode cannot write
// untorn (its pages spread over more than one RWF_ATOMIC unit), goes the
// long way: the chains, a File Sync, the meta page with one untorn write
// (atomicio.WriteAt), a second File Sync. Stats says which path each Sync
// took.
//
// After a crash at any moment the store reopens as it was after the last
// Sync that returned (or, for a crash inside a Sync, possibly after that
// one): every change acknowledged by a successful Sync is there, no later
// change is half there, and every page is whole. The single meta page is
// where untorn writes replace the usual two alternating copies or a
// doublewrite area: a torn meta page would point half at old and half at
// new chains.
//
// # Caveats
//
// Changes since the last Sync are held in memory (the whole contents of
// each changed bucket), so Sync regularly. Keys are at most MaxKeySize and
// values at most MaxValueSize bytes; the number of buckets is fixed at
// creation (at most MaxBuckets) and chains grow with overflow pages, so
// lookups slow down when keys far outnumber buckets x entries per page.
// Open walks every chain to find the free pages. An I/O error inside Sync
// leaves the store failed (ErrFailed): reopen it. Scan visits keys in
// bucket order, not key order.
//
// # Concurrency
//
// A Store is safe for concurrent use; one mutex serializes its methods, so
// a Scan callback must not call the Store.
package pagestore

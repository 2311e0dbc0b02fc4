// Package torture holds reusable crash and fault campaigns for untorn: each
// drives an atomicio.File over a machine of simulated devices (a
// blockdev.Mem; in journal mode two, the data device and the journal)
// with a random workload chosen by a seed, damages the machine in one way
// (a power cut, a power cut during recovery, a transient I/O error, a
// flipped bit), reopens what is left and checks it against a model of what
// was written. A power cut takes every device of the machine at one
// instant, and the device operations the campaigns count (to cut or fail
// the k-th) are those of all its devices, in one sequence.
//
// The model (Model) records every write with content that names it (see
// Fill), so each byte of a device image can be traced back to the writes
// that could have left it there. A Checker then decides whether an image
// keeps the promises of package atomicio:
//
//   - untorn: every atomicio.WriteAt reads entirely as before it or
//     entirely as it (or later writes) left it;
//   - durable: every write that returned before a successful Sync began is
//     present;
//   - no phantom data: every byte was written by someone (or never written
//     and still zero).
//
// The campaigns (see Campaigns) are:
//
//   - crash: cut the power at device write indices of a workload (writes
//     and flushes of every device) with blockdev.CrashPoint, several crash
//     configurations per cut, and check each image after reopening it;
//   - aftercrash: cut the power once, recover, run a second workload on
//     the recovered file and cut it again: the images must keep the
//     promises of the second workload over what recovery found;
//   - recovery: cut the power, then cut it again during the recovery that
//     the open runs on the image (a container's new checkpoint; a
//     journal's replay, data flush and reset), up to three times in a row,
//     and check the final image (COW and journal profiles: native recovery
//     writes nothing);
//   - transient: fail one I/O (EIO or ENOSPC, any kind of operation, of
//     any device) once, then require Sync to succeed within a few tries and
//     a crash image to hold everything that Sync made durable;
//   - corruption: flip one bit of a synced container, or of the journal
//     in journal mode, and require either an error wrapping
//     atomicio.ErrCorrupt or an image the model accepts (COW and journal
//     profiles: a native file, and a journal profile's data device, are
//     plain files without checksums, where a flipped data bit is
//     undetectable by design).
//
// Every case is deterministic given its seed, so a failure found by Run (or
// by the command examples/torture) can be replayed alone with the same
// seed. Run executes cases on several goroutines until a deadline, a number
// of cases or cancellation, and sums their Stats.
package torture

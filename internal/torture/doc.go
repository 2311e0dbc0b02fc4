// Package torture holds reusable crash and fault campaigns for untorn: each
// drives an atomicio.File over a blockdev.Mem with a random workload chosen
// by a seed, damages the device in one way (a power cut, a power cut during
// recovery, a transient I/O error, a flipped bit), reopens what is left and
// checks it against a model of what was written.
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
//   - crash: cut the power at device write indices of a workload with
//     blockdev.CrashPoint, several crash configurations per cut, and check
//     each image after reopening it;
//   - aftercrash: cut the power once, recover, run a second workload on
//     the recovered file and cut it again: the images must keep the
//     promises of the second workload over what recovery found;
//   - recovery: cut the power, then cut it again during the recovery that
//     OpenDevice runs on the image, up to three times in a row, and check
//     the final image (COW profiles: native recovery writes nothing);
//   - transient: fail one I/O (EIO or ENOSPC, any kind of operation) once,
//     then require Sync to succeed within a few tries and a crash image to
//     hold everything that Sync made durable;
//   - corruption: flip one bit of a synced image and require either an
//     error wrapping cow.ErrCorrupt or an image the model accepts (COW
//     profiles: a native file has no checksums, a flipped data bit there is
//     undetectable by design).
//
// Every case is deterministic given its seed, so a failure found by Run (or
// by the command examples/torture) can be replayed alone with the same
// seed. Run executes cases on several goroutines until a deadline, a number
// of cases or cancellation, and sums their Stats.
package torture

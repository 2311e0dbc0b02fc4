// Package xfstest gives tests a real XFS file system with reflink, where
// Linux (6.13 and later) offers untorn O_DIRECT writes through
// pwritev2(RWF_ATOMIC).
//
// Mount needs root, losetup, mkfs.xfs and a kernel with loop devices and
// XFS. Where something is missing the test is skipped with the reason,
// unless the environment sets UNTORN_REQUIRE_XFS=1 (as CI does), where it
// fails instead. Everything Mount sets up is torn down by t.Cleanup, also
// when the test fails: unmount, then detach the loop device, then the
// temporary directory with the image goes. LoopDevice gives a bare loop
// device the same way, for tests of a device that is no regular file.
package xfstest

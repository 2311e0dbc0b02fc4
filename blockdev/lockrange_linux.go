package blockdev

import "golang.org/x/sys/unix"

// fOFDSetLk is F_OFD_SETLK.
const fOFDSetLk = unix.F_OFD_SETLK

package blockdev

// fOFDSetLk is F_OFD_SETLK of macOS's fcntl.h, which golang.org/x/sys
// does not export (a private command of Darwin; SQLite's Go port
// ncruces/go-sqlite3 uses the same value).
const fOFDSetLk = 90

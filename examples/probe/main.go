// Command probe tells what a file system offers for untorn writes: the
// statx answer (atomic write unit min/max/segments, direct I/O alignment)
// and whether an RWF_ATOMIC write really succeeds in a temporary file there.
//
//	go run ./examples/probe PATH
//
// PATH is a directory (the probe writes a temporary file in it and removes
// it), a regular file or a block device (only statx is asked: nothing is
// written to an existing file).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/untorn/untorn/blockdev"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: probe PATH\n\n"+
			"Prints what PATH's file system offers for untorn (RWF_ATOMIC) writes.\n"+
			"PATH is a directory (a temporary file is written and removed there),\n"+
			"a regular file or a block device (statx only).\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := probe(os.Stdout, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		os.Exit(1)
	}
}

func probe(w io.Writer, path string) error {
	info, err := blockdev.Stat(path)
	if err != nil {
		return err
	}
	if info.Mode&blockdev.ModeTypeMask != blockdev.ModeDir {
		printInfo(w, path, info)
		return nil
	}
	tmp, err := os.CreateTemp(path, ".untorn-probe-*")
	if err != nil {
		return fmt.Errorf("create a temporary file in %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return err
	}
	if info, err = blockdev.Stat(name); err != nil {
		return err
	}
	printInfo(w, path, info)
	return tryAtomic(w, name)
}

func printInfo(w io.Writer, path string, info blockdev.AtomicInfo) {
	fmt.Fprintf(w, "path:                  %s\n", path)
	if info.DIOReported {
		fmt.Fprintf(w, "direct I/O alignment:  memory %d, offset %d\n", info.DIOMemAlign, info.DIOOffsetAlign)
	} else {
		fmt.Fprintf(w, "direct I/O alignment:  not reported (STATX_DIOALIGN)\n")
	}
	switch {
	case !info.AtomicReported:
		fmt.Fprintf(w, "untorn writes:         not reported (kernel without STATX_WRITE_ATOMIC)\n")
	case !info.AtomicAttr || info.AtomicUnitMax == 0:
		fmt.Fprintf(w, "untorn writes:         none\n")
	default:
		fmt.Fprintf(w, "untorn writes:         unit min %d, unit max %d, unit max opt %d, segments max %d\n",
			info.AtomicUnitMin, info.AtomicUnitMax, info.AtomicUnitMaxOpt, info.AtomicSegmentsMax)
	}
	fmt.Fprintf(w, "hardware untorn:       %s\n", hardwareVerdict(info))
}

// hardwareVerdict says what journal mode does with the drive's own atomic
// writes (statx atomic_write_unit_max_opt, Linux 6.16 and later).
func hardwareVerdict(info blockdev.AtomicInfo) string {
	switch {
	case !info.AtomicReported || !info.AtomicAttr || info.AtomicUnitMax == 0:
		return "none: every untorn page goes through the journal (written twice)"
	case info.Mode&blockdev.ModeTypeMask == blockdev.ModeBlock && info.AtomicUnitMaxOpt == 0:
		return fmt.Sprintf("up to %d bytes (a block device's untorn writes are the drive's own)", info.AtomicUnitMax)
	case info.AtomicUnitMaxOpt == 0:
		return "none reported (unit max opt 0: software atomic writes only, or a kernel before 6.16): every untorn page goes through the journal"
	}
	return fmt.Sprintf("up to %d bytes: untorn writes whose naturally aligned unit fits go home in place (written once), the rest through the journal", info.AtomicUnitMaxOpt)
}

// tryAtomic opens path with O_DIRECT and tries one untorn write of the
// smallest unit the file system claims (4 KiB where it claims nothing).
func tryAtomic(w io.Writer, path string) error {
	f, err := blockdev.OpenFile(path, blockdev.FileOptions{Size: 4 << 20})
	if err != nil {
		fmt.Fprintf(w, "O_DIRECT:              refused: %v\n", err)
		return nil
	}
	defer f.Close()
	l := f.Limits()
	fmt.Fprintf(w, "device limits:         block %d, memory alignment %d, atomic [%d, %d], hardware atomic max %d\n",
		l.BlockSize, l.MemAlign, l.AtomicMin, l.AtomicMax, l.AtomicHardwareMax)
	n := max(l.AtomicMin, 4096)
	buf := blockdev.AlignedBuffer(n, l.MemAlign)
	if !l.HasAtomic() {
		// Ask the kernel anyway, so the answer is its own and not ours.
		err = blockdev.ProbeAtomicWrite(path, buf, 0)
		fmt.Fprintf(w, "RWF_ATOMIC write:      %s\n", verdict(err))
		return nil
	}
	_, err = f.WriteAt(buf, 0, blockdev.Atomic)
	fmt.Fprintf(w, "RWF_ATOMIC write:      %s (%d bytes)\n", verdict(err), n)
	return nil
}

func verdict(err error) string {
	switch {
	case err == nil:
		return "succeeded"
	case errors.Is(err, syscall.EOPNOTSUPP):
		return "not supported (EOPNOTSUPP)"
	case errors.Is(err, blockdev.ErrNotSupported):
		return "not supported on this system (Linux only)"
	default:
		return "failed: " + err.Error()
	}
}

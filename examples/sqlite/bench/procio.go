package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procIO is a reading of the process's I/O counters (/proc/self/io, summed
// over all its threads by the kernel).
type procIO struct {
	// WriteBytes is what the process caused to be sent to the block layer:
	// buffered writes when they dirty a page, direct writes when issued. It
	// does not count the file system's own journal.
	WriteBytes int64
	// WChar is what write system calls (write, pwrite, pwritev2, ...)
	// were given.
	WChar int64
}

// readProcIO reads /proc/self/io.
func readProcIO() (procIO, error) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return procIO{}, fmt.Errorf("read I/O counters: %w", err)
	}
	return parseProcIO(data)
}

// parseProcIO parses the text of /proc/<pid>/io.
func parseProcIO(data []byte) (procIO, error) {
	var p procIO
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "write_bytes":
			dst = &p.WriteBytes
		case "wchar":
			dst = &p.WChar
		default:
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(val)), 10, 64)
		if err != nil {
			return procIO{}, fmt.Errorf("parse /proc/self/io %s: %w", key, err)
		}
		*dst = n
		seen++
	}
	if seen != 2 {
		return procIO{}, fmt.Errorf("parse /proc/self/io: %w", errNoCounters)
	}
	return p, nil
}

// sub returns the counters' growth from before to p.
func (p procIO) sub(before procIO) procIO {
	return procIO{WriteBytes: p.WriteBytes - before.WriteBytes, WChar: p.WChar - before.WChar}
}

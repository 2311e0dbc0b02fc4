package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// procStatusKB reads one "Name:   123 kB" field of /proc/self/status in
// bytes; 0 when it cannot.
func procStatusKB(field string) int64 {
	return procField("/proc/self/status", field+":") * 1024
}

// procField reads the first number after a line's prefix in a /proc file.
func procField(path, prefix string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		return n
	}
	return 0
}

// resetPeakRSS returns memory to the OS and resets VmHWM to the current
// RSS (clear_refs "5", Linux 4.0+). It reports whether the reset worked;
// if not, VmHWM is the peak since the process started.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is VmHWM in bytes.
func peakRSS() int64 { return procStatusKB("VmHWM") }

// kernelWriteBytes is this process's write_bytes from /proc/self/io: bytes
// it caused to be sent to storage (O_DIRECT writes when submitted, buffered
// writes when their pages were dirtied). -1 when unavailable.
func kernelWriteBytes() int64 {
	if _, err := os.Stat("/proc/self/io"); err != nil {
		return -1
	}
	return procField("/proc/self/io", "write_bytes:")
}

// runqueueWait is the time the process's threads have spent runnable but
// waiting for a CPU (the second field of /proc/self/task/*/schedstat),
// summed over the threads alive now; -1 when unavailable. Over a busy
// machine it shows how much of a run was waiting for a CPU rather than
// for the device.
func runqueueWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		total += n
	}
	return time.Duration(total)
}

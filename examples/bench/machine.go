package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/internal/benchstat"
)

// machine describes where the benchmark ran.
type machine struct {
	Date       string `json:"date"`
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Dir        string `json:"dir"`
	FileSystem string `json:"file_system"`
	Untorn     string `json:"rwf_atomic"` // what statx says about untorn writes in Dir
}

func describeMachine(dir string) machine {
	m := machine{
		Date:  time.Now().Format(time.RFC3339),
		CPU:   cpuModel(),
		Cores: runtime.NumCPU(),
		Go:    runtime.Version(),
		Dir:   dir,
	}
	m.Kernel = benchstat.Kernel()
	m.FileSystem = benchstat.FileSystem(dir)
	m.Untorn = untornSupport(dir)
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// untornSupport asks statx about a scratch file in dir.
func untornSupport(dir string) string {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return "unknown"
	}
	name := f.Name()
	_ = f.Close()
	defer os.Remove(name)
	info, err := blockdev.Stat(name)
	switch {
	case err != nil:
		return "unknown"
	case !info.AtomicReported:
		return "not reported"
	case !info.AtomicAttr || info.AtomicUnitMax == 0:
		return "none"
	}
	return fmt.Sprintf("%s..%s", formatSize(int64(info.AtomicUnitMin)), formatSize(int64(info.AtomicUnitMax)))
}

// freeBytes is the space an unprivileged user can still use in dir.
func freeBytes(dir string) (int64, error) {
	return blockdev.FreeBytes(dir)
}

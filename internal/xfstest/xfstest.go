package xfstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = "UNTORN_REQUIRE_XFS"

// ImageSize is the size of the sparse image behind the file system.
const ImageSize = 1 << 30

// Mount makes a sparse image in t.TempDir(), attaches it to a loop device
// with direct I/O, formats it with mkfs.xfs -m reflink=1, mounts it and
// returns the mount point.
func Mount(t testing.TB) string {
	t.Helper()
	if reason := unavailable(); reason != "" {
		skipOrFail(t, reason)
		return ""
	}
	dev := LoopDevice(t, ImageSize)
	if dev == "" {
		return "" // skipped
	}
	base := t.TempDir()
	if out, err := run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", dev); err != nil {
		t.Fatalf("xfstest: mkfs.xfs %s: %v: %s", dev, err, out)
	}
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatalf("xfstest: %v", err)
	}
	if out, err := run("mount", "-t", "xfs", dev, mnt); err != nil {
		skipOrFail(t, fmt.Sprintf("mount -t xfs: %v: %s", err, out))
		return ""
	}
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

// LoopDevice makes a sparse image of size bytes in t.TempDir() and
// attaches it to a loop device with direct I/O, for tests of a device that
// is no regular file. It returns the device path; t.Cleanup detaches it. It
// skips or fails like Mount where loop devices are unavailable.
func LoopDevice(t testing.TB, size int64) string {
	t.Helper()
	if reason := unavailable(); reason != "" {
		skipOrFail(t, reason)
		return ""
	}
	img := filepath.Join(t.TempDir(), "loop.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatalf("xfstest: create image: %v", err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatalf("xfstest: size image: %v", err)
	}
	dev, err := attach(img)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("losetup: %v", err))
		return ""
	}
	t.Cleanup(func() { detach(t, dev) })
	return dev
}

// Required reports whether the environment demands the real XFS tests.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("xfstest: real XFS required (%s=1) but unavailable: %s", RequireEnv, reason)
	}
	t.Skipf("xfstest: real XFS unavailable, skipping: %s (set %s=1 to make this a failure)", reason, RequireEnv)
}

func unavailable() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, tool := range []string{"losetup", "mkfs.xfs", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found (apt-get install -y xfsprogs mount)"
		}
	}
	return ""
}

// attach retries: parallel test binaries race for the same free loop device.
func attach(img string) (string, error) {
	var lastErr error
	for range 10 {
		out, err := run("losetup", "-f", "--show", "--direct-io=on", img)
		if err == nil {
			return strings.TrimSpace(out), nil
		}
		lastErr = fmt.Errorf("%w: %s", err, out)
		time.Sleep(100 * time.Millisecond)
	}
	return "", lastErr
}

func unmount(t testing.TB, mnt string) {
	var out string
	var err error
	for range 50 {
		if out, err = run("umount", mnt); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // a file still open elsewhere in the test
	}
	t.Errorf("xfstest: umount %s: %v: %s", mnt, err, out)
}

func detach(t testing.TB, dev string) {
	var out string
	var err error
	for range 50 {
		if out, err = run("losetup", "-d", dev); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("xfstest: losetup -d %s: %v: %s", dev, err, out)
}

func run(name string, args ...string) (string, error) {
	var buf bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

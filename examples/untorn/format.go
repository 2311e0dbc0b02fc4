package main

import (
	"fmt"
	"io"
	"os"
)

// Output helpers: sizes for people and key: value lines.

// human prints n bytes in the largest binary unit below it, with one
// decimal.
func human(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[u])
}

// count says n things: "1 record", "2 records".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// kv prints one "key: value" line (aligned by a tabwriter).
func kv(w io.Writer, k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, v) }

// fileSizes prints a file's apparent size (ls -l) and disk use (du).
func fileSizes(w io.Writer, what string, fi os.FileInfo) {
	kv(w, what, fmt.Sprintf("%d bytes apparent (ls -l), %d on disk (du)", fi.Size(), diskUse(fi)))
}

func bytesOf(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d bytes (%s)", n, human(n))
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

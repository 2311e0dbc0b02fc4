package atomicio_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/atomicio"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "untorn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A new file needs a size; on a file system without RWF_ATOMIC it
	// becomes a COW container.
	f, err := atomicio.Open(filepath.Join(dir, "data.db"), atomicio.Options{Size: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Println("capacity:", f.Size()>>20, "MiB")
	// Output: capacity: 64 MiB
}

func ExampleWriteAt() {
	dir, err := os.MkdirTemp("", "untorn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := atomicio.Open(filepath.Join(dir, "data.db"), atomicio.Options{Size: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	// A 16 KiB database page, written untorn at an offset that is not even
	// aligned: after a crash it is either all old or all new.
	page := bytes.Repeat([]byte{0xAB}, 16<<10)
	if _, err := atomicio.WriteAt(f, page, 3*16<<10+100); err != nil {
		log.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := f.ReadAt(got, 3*16<<10+100); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%x\n", got)
	// Output: abababab
}

func ExampleFile_Sync() {
	dir, err := os.MkdirTemp("", "untorn-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data.db")
	f, err := atomicio.Open(path, atomicio.Options{Size: 16 << 20})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := atomicio.WriteAt(f, []byte("checkpoint 42"), 0); err != nil {
		log.Fatal(err)
	}
	// Everything written before Sync is durable when it returns nil.
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	// Reopening recognises the container and recovers it.
	f, err = atomicio.Open(path, atomicio.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 13)
	if _, err := f.ReadAt(buf, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf))
	// Output: checkpoint 42
}

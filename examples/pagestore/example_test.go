package pagestore_test

import (
	"fmt"
	"log"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/examples/pagestore"
)

func Example() {
	// A 4 MiB device in memory; atomicio.Open(path, ...) gives a real file.
	dev, err := blockdev.NewMem(4<<20, blockdev.LimitsXFS)
	if err != nil {
		log.Fatal(err)
	}
	f, err := atomicio.OpenDevice(dev, atomicio.Options{Size: 2 << 20})
	if err != nil {
		log.Fatal(err)
	}
	s, err := pagestore.Open(f, pagestore.Options{Buckets: 16})
	if err != nil {
		log.Fatal(err)
	}
	for _, kv := range [][2]string{{"apple", "red"}, {"banana", "yellow"}, {"cherry", "dark red"}} {
		if err := s.Put([]byte(kv[0]), []byte(kv[1])); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := s.Delete([]byte("banana")); err != nil {
		log.Fatal(err)
	}
	// Sync commits: after a crash from here on, apple and cherry are there.
	if err := s.Sync(); err != nil {
		log.Fatal(err)
	}
	v, ok, err := s.Get([]byte("cherry"))
	fmt.Println(string(v), ok, err)
	_, ok, _ = s.Get([]byte("banana"))
	fmt.Println("banana:", ok, "keys:", s.Len(), "check:", s.Check())
	if err := s.Close(); err != nil { // closes f too
		log.Fatal(err)
	}
	// Output:
	// dark red true <nil>
	// banana: false keys: 2 check: <nil>
}

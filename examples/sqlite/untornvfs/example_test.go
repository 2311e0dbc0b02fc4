package untornvfs_test

import (
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/untorn/untorn/examples/sqlite/untornvfs"
)

// A database/sql program on the untorn VFS: every small transaction
// commits as one untorn batch and one Sync, without a journal.
func Example() {
	dir, err := os.MkdirTemp("", "untornvfs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	untornvfs.Register()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "app.db")+"?vfs=untorn&_pragma=synchronous(full)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if _, err := db.Exec(`CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER)`); err != nil {
		log.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		if _, err := db.Exec(`INSERT INTO acct VALUES(?, 100)`, id); err != nil {
			log.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{`UPDATE acct SET bal = bal - 30 WHERE id = 1`, `UPDATE acct SET bal = bal + 30 WHERE id = 2`} {
		if _, err := tx.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil { // one untorn batch, then one Sync
		log.Fatal(err)
	}

	var sum int
	if err := db.QueryRow(`SELECT sum(bal) FROM acct`).Scan(&sum); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sum of balances:", sum)
	// Output: sum of balances: 300
}

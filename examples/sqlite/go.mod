module github.com/untorn/untorn/examples/sqlite

go 1.26.0

require (
	github.com/ncruces/go-sqlite3 v0.37.0
	github.com/stretchr/testify v1.12.1
	github.com/untorn/untorn v0.0.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/google/btree v1.1.3 // indirect
	github.com/ncruces/go-sqlite3-wasm/v6 v6.5.35401 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/untorn/untorn => ../..

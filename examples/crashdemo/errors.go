package main

import "errors"

var (
	// errGuaranteeBroken: the untorn run found a torn or lost page.
	errGuaranteeBroken = errors.New("untorn writes came back torn or lost")
	// errBadConfig: a flag out of range.
	errBadConfig = errors.New("bad configuration")
	// errTooSmall: the File is smaller than the pages asked for.
	errTooSmall = errors.New("file too small for the pages")
)

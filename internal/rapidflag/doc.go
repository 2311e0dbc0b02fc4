// Package rapidflag sets a test binary's default number of rapid checks,
// sized by package testsize: few in the default run, many with
// UNTORN_LONG=1.
package rapidflag

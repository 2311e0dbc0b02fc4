// Package rapidflag sets a test binary's default number of rapid checks.
package rapidflag

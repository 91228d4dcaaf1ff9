// A Go program for tests/test_audit_verdicts.py: ordinary Go functions keep rbp as the frame base (Go's
// prologue: sub rsp, N; mov [rsp+N-8], rbp; lea rbp, [rsp+N-8]); the two assembly functions save rbp
// and then overwrite it, which is not a frame pointer.
package main

import "fmt"

func clobberFramed(x int64) int64
func clobberPushed(x int64) int64
func helper()

//go:noinline
func work(n int64) int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(i) * n
	}
	return s[len(s)-1]
}

func main() {
	fmt.Println(work(10), clobberFramed(3), clobberPushed(4))
}

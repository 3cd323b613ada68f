package main

import (
	"syscall"
	"unsafe"
)

// clockMonotonic reads CLOCK_MONOTONIC in nanoseconds (the clock C programs
// get from clock_gettime), so /log times compare with theirs.
func clockMonotonic() int64 {
	var ts syscall.Timespec
	const clockMonotonicID = 1
	_, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonicID, uintptr(unsafe.Pointer(&ts)), 0)
	if e != 0 {
		return 0
	}
	return ts.Sec*1e9 + ts.Nsec
}

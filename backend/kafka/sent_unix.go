//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package kafka

import (
	"errors"
	"syscall"
)

// peek reads one byte of rc's socket without removing it and without
// waiting: 0 bytes is the broker's end of the connection.
func peek(rc syscall.RawConn) error {
	var (
		buf  [1]byte
		n    int
		perr error
	)
	err := rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return nil // closed here: the write reports it
	case perr == nil && n == 0:
		return errPeerClosed
	case errors.Is(perr, syscall.ECONNRESET):
		return perr
	}
	return nil
}

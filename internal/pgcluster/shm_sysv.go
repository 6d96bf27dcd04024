//go:build (darwin && !ios) || linux

package pgcluster

import (
	"errors"

	"golang.org/x/sys/unix"
)

// shmemInUse reports whether System V shared memory segment id still has
// processes attached. A crashed postmaster's children keep its segment
// attached until they notice it died; PostgreSQL refuses to start until
// they have ("pre-existing shared memory block is still in use"). known is
// false when the system will not tell (no permission).
func shmemInUse(id int) (inUse, known bool) {
	var desc unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc)
	switch {
	case err == nil:
		return desc.Nattch > 0, true
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EIDRM):
		return false, true // removed
	default:
		return false, false
	}
}

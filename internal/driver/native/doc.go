// Package native is the driver that runs a workload on the node itself as a throw-away local
// user (drivers.md §4). Each resource is a new unprivileged user "fish-" + 6 random lowercase
// letters (the resource identifier) with a private home (mode 0700), the label's image
// archives copied into its home or disks, and an entry command started as that user in its
// home, with the merged metadata in its environment. Deallocation leaves no trace: no process,
// no account, no group, no home, no disk, no cgroup and no file of the user in /tmp, /var/tmp
// or /dev/shm.
//
// Linux is the tested OS; the node must run as root there. macOS follows the reference
// (dscl, createhomedir, hdiutil, password-less sudo) in the darwin files; other OSes make the
// factory fail.
//
// # Records and restart
//
// Before a user is created, a record <workspace>/<user>.json (node UID, application,
// resource, and the layout: home, disk and cgroup paths) is written exclusively; it is
// removed only after everything of the user is gone. A crash at any point therefore leaves a
// record, Inventory lists the records of this node, and Destroy finishes the job. A user
// without a record is never touched.
//
// # Confinement on Linux
//
// Every user gets a cgroup v2 directory (<cgroup2 mount>/fish/<user>, or cgroup_path) when the
// unified hierarchy is writable. The entry is born in it (clone3 with CLONE_INTO_CGROUP, via
// SysProcAttr.UseCgroupFD), so nothing it forks escapes; memory.max = ram GB and cpu.max =
// cpu × 100000 / 100000 when the controllers are available. Hybrid hosts whose memory or cpu
// controller sits in a version 1 hierarchy get the limits there, in a cgroup below the node's
// own: the entry's shell waits on a pipe until the node has moved it in. Without cgroups the
// driver works but logs that limits are not enforced.
//
// Killing a user is not left to luck: cgroup.kill ends its cgroup at once; then a process
// running as the user sends kill(-1, SIGKILL), which the kernel delivers to every process of
// the uid in one pass that new forks cannot escape (double forks and setsid included); then
// /proc is scanned for any process whose real, effective or saved uid is the user's, and each
// is killed, until a scan finds none (or a deadline passes).
//
// # Metadata API for native resources
//
// Native resources share the host's addresses, so the meta API cannot tell them apart by IP.
// The driver implements driver.PeerIdentifier instead: for a connection the node accepted
// (remote R, local L), the client's end is the socket whose local address is R and whose peer
// is L. IdentifyPeer finds it in /proc/net/tcp and /proc/net/tcp6 and reads its owner uid,
// which the kernel sets from the process that created the socket: no other user can forge
// it, and no token is needed. The uid maps to a user only when this node holds a record of
// it with that uid and the account still has it. The entry gets FISH_META_URL, the node's
// meta API address as seen from the host. On macOS IdentifyPeer always reports false.
package native

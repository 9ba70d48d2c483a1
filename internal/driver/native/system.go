package native

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os/exec"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// userComment is the full name (GECOS, RealName) of the accounts.
const userComment = "aquarium-fish native resource"

// errNoUser is returned (wrapped) by lookupUser when the account does not exist.
var errNoUser = errors.New("no such user")

// account is a user created by the driver.
type account struct {
	Name   string
	UID    uint32
	GID    uint32   // primary group
	Groups []uint32 // supplementary groups
	Home   string
}

// layout is where a user's things live. It is computed before anything is created and kept in
// the user's record, so clean-up finds everything even after a crash or a config change.
type layout struct {
	Home    string            `json:"home"`
	Disks   map[string]string `json:"disks,omitempty"`
	Cgroups []string          `json:"cgroups,omitempty"`
	Log     string            `json:"log,omitempty"` // the entry's output, in the workspace
}

// limits are the resources the entry may use.
type limits struct {
	CPU uint32 // CPUs, 0 = unlimited
	RAM uint32 // GB, 0 = unlimited
}

// launch is an entry command prepared by the system, not started yet.
type launch struct {
	cmd *exec.Cmd
	// started runs right after cmd started and before the entry may proceed (for example it
	// moves the process into cgroups and then releases it). Nil when there is nothing to do.
	started func(pid int) error
	// release frees what the parent holds for the start (descriptors); called once after the
	// start attempt, whatever its outcome. Nil when there is nothing to free.
	release func()
}

// system is the OS-specific half of the driver: accounts, files, processes and limits. Every
// method may be called again after a partial failure or a crash and must then finish the job.
type system interface {
	// layout tells where the things of user name with the given disks go.
	layout(name string, disks []string) layout
	// createUser creates the account name with its own private home (mode 0700). groups, when
	// not empty, are existing groups, the first being the primary one.
	createUser(ctx context.Context, name, home string, groups []string) (account, error)
	// lookupUser returns the account name, or an error wrapping errNoUser.
	lookupUser(name string) (account, error)
	// deleteUser removes the account (and the group created with it). Its files are not
	// touched.
	deleteUser(ctx context.Context, name string) error

	// makeDisk creates a disk of acct at path (from its layout).
	makeDisk(ctx context.Context, acct account, name, path string, spec model.ResourcesDisk) error
	// install copies the content of the unpacked image directory src into dst, owned by acct.
	install(ctx context.Context, acct account, src, dst string) error

	// prepare builds the command that runs script with sh as acct in its home with env,
	// confined to lim where the OS can.
	prepare(ctx context.Context, acct account, lay layout, script string, env []string, lim limits) (launch, error)
	// killAll stops every process of acct and returns once none is left (or ctx ends).
	killAll(ctx context.Context, acct account, lay layout) error
	// removeTemp removes the files acct owns in the shared temporary directories.
	removeTemp(ctx context.Context, acct account) error
	// removeResidue removes what is left of user name at the places of its layout (home,
	// disks, cgroups), whether or not the account still exists.
	removeResidue(ctx context.Context, name string, lay layout) error

	// peerUID returns the uid owning the local socket whose address is remote and whose peer
	// is local, as seen by the server side of the connection.
	peerUID(remote, local netip.AddrPort) (uint32, bool)
}

// systemParams are what every OS implementation gets; newSystem (system_linux.go,
// system_darwin.go, system_other.go) turns them into the OS's system or fails when the OS
// lacks what the driver needs.
type systemParams struct {
	cfg       Config
	workspace string
	log       *slog.Logger
}

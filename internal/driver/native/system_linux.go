//go:build linux

package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Defaults of the Linux system.
const defaultHomes = "/home"

// Exit statuses of useradd/userdel/groupdel (shadow-utils) that mean "already so".
const (
	exitUserExists    = 9 // useradd: username already in use
	exitUserNotExists = 6 // userdel/groupdel: the user or group does not exist
)

// linuxSystem creates users with the shadow-utils tools and confines them with cgroups. It
// needs root.
type linuxSystem struct {
	log      *slog.Logger
	useradd  string
	userdel  string
	groupdel string
	sh       string
	shell    string // login shell of the accounts: none
	homes    string
	disks    string
	cg       *cgroups

	// accounts serialises edits of /etc/passwd and /etc/group within this process.
	accounts sync.Mutex
}

func newSystem(p systemParams) (system, error) {
	if uid := os.Geteuid(); uid != 0 {
		return nil, fmt.Errorf("the native driver needs root on linux (running as uid %d): it creates users, changes file owners and cgroups", uid)
	}
	s := &linuxSystem{log: p.log}
	var err error
	for _, t := range []struct {
		dst           *string
		key, explicit string
		name          string
	}{
		{&s.useradd, "useradd_path", p.cfg.UseraddPath, "useradd"},
		{&s.userdel, "userdel_path", p.cfg.UserdelPath, "userdel"},
		{&s.groupdel, "groupdel_path", p.cfg.GroupdelPath, "groupdel"},
		{&s.sh, "sh_path", p.cfg.ShPath, "sh"},
	} {
		if *t.dst, err = tool(t.key, t.explicit, t.name); err != nil {
			return nil, err
		}
	}
	s.shell = "/usr/sbin/nologin"
	if _, err := os.Stat(s.shell); err != nil {
		s.shell = "/bin/false"
	}
	if s.homes, err = rootDir("homes_path", p.cfg.HomesPath, defaultHomes); err != nil {
		return nil, err
	}
	if s.disks, err = rootDir("disks_path", p.cfg.DisksPath, s.homes); err != nil {
		return nil, err
	}
	s.cg = detectCgroups(p.cfg.CgroupPath, p.log)
	return s, nil
}

// rootDir validates an absolute directory that users must be able to traverse and creates it.
func rootDir(key, p, def string) (string, error) {
	if p == "" {
		p = def
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%w: %s must be an absolute path: %q", errConfig, key, p)
	}
	p = filepath.Clean(p)
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("%w: %s %s must not be writable by group or others", errConfig, key, p)
	}
	// The users must reach their homes: every directory on the way must be searchable.
	for dir := p; ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil {
			return "", err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return "", fmt.Errorf("%w: %s %s: %s (mode %v) is not searchable by other users", errConfig, key, p, dir, st.Mode().Perm())
		}
		if dir == "/" {
			return p, nil
		}
	}
}

func (s *linuxSystem) layout(name string, disks []string) layout {
	l := layout{Home: filepath.Join(s.homes, name), Cgroups: s.cg.dirs(name)}
	if len(disks) > 0 {
		l.Disks = make(map[string]string, len(disks))
		for _, d := range disks {
			l.Disks[d] = filepath.Join(s.disks, name+"-disk-"+d)
		}
	}
	return l
}

func (s *linuxSystem) createUser(ctx context.Context, name, home string, groups []string) (account, error) {
	args := []string{"--no-create-home", "--home-dir", home, "--shell", s.shell, "--comment", userComment, "--no-log-init"}
	if len(groups) == 0 {
		args = append(args, "--user-group")
	} else {
		args = append(args, "--no-user-group", "--gid", groups[0])
		if len(groups) > 1 {
			args = append(args, "--groups", strings.Join(groups[1:], ","))
		}
	}
	args = append(args, name)
	s.accounts.Lock()
	err := run(ctx, s.useradd, args...)
	s.accounts.Unlock()
	if err != nil && exitCode(err) != exitUserExists {
		return account{}, fmt.Errorf("create user %s: %w", name, err)
	}
	acct, err := s.lookupUser(name)
	if err != nil {
		return account{}, err
	}
	// A home left by an earlier user of the same name (whose clean-up failed) is not reused.
	if err := os.RemoveAll(home); err != nil {
		return account{}, fmt.Errorf("clear home: %w", err)
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		return account{}, fmt.Errorf("create home: %w", err)
	}
	if err := os.Chmod(home, 0o700); err != nil { // the umask may have cut bits; make it exact
		return account{}, fmt.Errorf("create home: %w", err)
	}
	if err := os.Lchown(home, int(acct.UID), int(acct.GID)); err != nil {
		return account{}, fmt.Errorf("create home: %w", err)
	}
	return acct, nil
}

func (s *linuxSystem) lookupUser(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return account{}, fmt.Errorf("%w: %s", errNoUser, name)
		}
		return account{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, fmt.Errorf("user %s: %w", name, err)
	}
	acct := account{Name: name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return account{}, fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err == nil && uint32(n) != acct.GID {
			acct.Groups = append(acct.Groups, uint32(n))
		}
	}
	return acct, nil
}

func (s *linuxSystem) deleteUser(ctx context.Context, name string) error {
	s.accounts.Lock()
	defer s.accounts.Unlock()
	// -f: zombie processes still carry the uid until they are reaped by their parent.
	if err := run(ctx, s.userdel, "-f", name); err != nil && exitCode(err) != exitUserNotExists {
		return err
	}
	// The group of the same name is the user's own (--user-group); userdel normally removes it.
	if _, err := user.LookupGroup(name); err == nil {
		if err := run(ctx, s.groupdel, name); err != nil && exitCode(err) != exitUserNotExists {
			return err
		}
	}
	return nil
}

func (s *linuxSystem) makeDisk(_ context.Context, acct account, _, path string, _ model.ResourcesDisk) error {
	if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Chmod(path, 0o700); err != nil {
		return err
	}
	return os.Lchown(path, int(acct.UID), int(acct.GID))
}

func (s *linuxSystem) install(ctx context.Context, acct account, src, dst string) error {
	return copyTree(ctx, src, dst, int(acct.UID), int(acct.GID))
}

func (s *linuxSystem) prepare(_ context.Context, acct account, _ layout, script string, env []string, lim limits) (launch, error) {
	ucg, err := s.cg.create(acct.Name, lim)
	if err != nil {
		return launch{}, err
	}
	var closers []func()
	release := func() {
		for _, c := range closers {
			c()
		}
	}
	attr := &syscall.SysProcAttr{
		// Its own session: no signal for the node's terminal reaches the resource.
		Setsid: true,
		Credential: &syscall.Credential{
			Uid: acct.UID, Gid: acct.GID, Groups: acct.Groups,
		},
	}
	if ucg.v2 != "" {
		// The process is born in the cgroup (clone3 with CLONE_INTO_CGROUP): nothing it
		// forks can ever be outside it.
		f, err := os.Open(ucg.v2)
		if err != nil {
			return launch{}, fmt.Errorf("open cgroup: %w", err)
		}
		closers = append(closers, func() { f.Close() })
		attr.UseCgroupFD, attr.CgroupFD = true, int(f.Fd())
	}
	var extra []*os.File
	var started func(pid int) error
	if len(ucg.v1) > 0 {
		// Version 1 hierarchies have no such clone flag: the shell waits on a pipe until the
		// parent has moved it, and only then runs the script.
		pr, pw, err := os.Pipe()
		if err != nil {
			release()
			return launch{}, fmt.Errorf("gate pipe: %w", err)
		}
		closers = append(closers, func() { pr.Close(); pw.Close() })
		extra = []*os.File{pr}
		script = "read _ <&3\nexec 3<&-\n" + script
		started = func(pid int) error {
			defer pw.Close()
			for _, dir := range ucg.v1 {
				if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	cmd := exec.Command(s.sh, "-c", script)
	cmd.Dir = acct.Home
	cmd.Env = env
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = attr
	return launch{cmd: cmd, started: started, release: release}, nil
}

func (s *linuxSystem) killAll(ctx context.Context, acct account, lay layout) error {
	return killUser(ctx, acct, s.sh, lay.Cgroups)
}

func (s *linuxSystem) removeTemp(ctx context.Context, acct account) error {
	return removeOwned(ctx, acct, []string{"/tmp", "/var/tmp", "/dev/shm"},
		[]string{filepath.Join("/var/mail", acct.Name), filepath.Join("/var/spool/mail", acct.Name)})
}

func (s *linuxSystem) removeResidue(ctx context.Context, name string, lay layout) error {
	var errs []error
	for _, p := range append([]string{lay.Home}, mapValues(lay.Disks)...) {
		if !ownPath(p, name) {
			errs = append(errs, fmt.Errorf("refusing to remove %q: not a path of %s", p, name))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.cg.remove(ctx, name, lay.Cgroups); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *linuxSystem) peerUID(remote, local netip.AddrPort) (uint32, bool) {
	return socketOwner(remote, local)
}

// writeFile writes a control file (cgroupfs), without creating it.
func writeFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err // an *fs.PathError naming the file
	}
	return f.Close()
}

// diskTypeSupported reports whether a disk type can be made: directories only on Linux.
func diskTypeSupported(t string) bool { return t == "" || t == "dir" }

//go:build darwin

package native

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Defaults of the macOS system.
const (
	darwinHomes     = "/Users"
	darwinFirstUID  = 1000
	darwinStaffGID  = 20
	darwinIntWait   = 5 * time.Second
	darwinDeleteTry = 5
)

// darwinSystem follows the reference node: accounts with dscl and createhomedir, disk images
// with hdiutil, everything privileged through password-less sudo (or directly as root). It
// enforces no CPU or memory limit.
type darwinSystem struct {
	log       *slog.Logger
	workspace string
	homes     string
	disks     string
	sudo, su, sh, dscl, createhomedir, hdiutil, mdutil,
	killall, chown, chmod, rm, cp, find, mkdir string

	accounts sync.Mutex // serialises the choice of uids
}

func newSystem(p systemParams) (system, error) {
	s := &darwinSystem{log: p.log, workspace: p.workspace}
	var err error
	for _, t := range []struct {
		dst           *string
		key, explicit string
		name          string
	}{
		{&s.sudo, "sudo_path", p.cfg.SudoPath, "sudo"},
		{&s.su, "su_path", p.cfg.SuPath, "su"},
		{&s.sh, "sh_path", p.cfg.ShPath, "sh"},
		{&s.dscl, "dscl_path", p.cfg.DsclPath, "dscl"},
		{&s.createhomedir, "createhomedir_path", p.cfg.CreatehomedirPath, "createhomedir"},
		{&s.hdiutil, "hdiutil_path", p.cfg.HdiutilPath, "hdiutil"},
		{&s.mdutil, "mdutil_path", p.cfg.MdutilPath, "mdutil"},
		{&s.killall, "killall_path", p.cfg.KillallPath, "killall"},
		{&s.chown, "chown_path", p.cfg.ChownPath, "chown"},
		{&s.chmod, "chmod_path", p.cfg.ChmodPath, "chmod"},
		{&s.rm, "rm_path", p.cfg.RmPath, "rm"},
		{&s.cp, "cp", "", "cp"},
		{&s.find, "find", "", "find"},
		{&s.mkdir, "mkdir", "", "mkdir"},
	} {
		if *t.dst, err = tool(t.key, t.explicit, t.name); err != nil {
			return nil, err
		}
	}
	s.homes = filepath.Clean(p.cfg.HomesPath)
	if p.cfg.HomesPath == "" {
		s.homes = darwinHomes
	}
	s.disks = s.homes
	if p.cfg.DisksPath != "" {
		s.disks = filepath.Clean(p.cfg.DisksPath)
	}
	if !filepath.IsAbs(s.homes) || !filepath.IsAbs(s.disks) {
		return nil, fmt.Errorf("%w: homes_path and disks_path must be absolute", errConfig)
	}
	if os.Geteuid() != 0 {
		if err := run(context.Background(), s.sudo, "-n", "true"); err != nil {
			return nil, fmt.Errorf("the native driver needs root or password-less sudo: %w", err)
		}
	}
	p.log.Warn("the native driver enforces no CPU or memory limit on darwin")
	return s, nil
}

// priv runs a tool as root: directly when the node is root, through sudo -n otherwise.
func (s *darwinSystem) priv(ctx context.Context, name string, args ...string) error {
	if os.Geteuid() == 0 {
		return run(ctx, name, args...)
	}
	return run(ctx, s.sudo, append([]string{"-n", name}, args...)...)
}

func (s *darwinSystem) layout(name string, disks []string) layout {
	l := layout{Home: filepath.Join(s.homes, name)}
	if len(disks) > 0 {
		l.Disks = make(map[string]string, len(disks))
		for _, d := range disks {
			l.Disks[d] = filepath.Join(s.disks, name+"-disk-"+d)
		}
	}
	return l
}

func (s *darwinSystem) createUser(ctx context.Context, name, home string, groups []string) (account, error) {
	s.accounts.Lock()
	defer s.accounts.Unlock()
	uid, err := s.nextUID(ctx)
	if err != nil {
		return account{}, err
	}
	gid := uint32(os.Getgid())
	if gid == 0 {
		gid = darwinStaffGID // never the wheel group
	}
	if len(groups) > 0 {
		if gid, err = s.groupID(ctx, groups[0]); err != nil {
			return account{}, err
		}
	}
	rec := "/Users/" + name
	for _, kv := range [][]string{
		nil,
		{"RealName", userComment},
		{"UserShell", s.sh},
		{"UniqueID", strconv.FormatUint(uint64(uid), 10)},
		{"PrimaryGroupID", strconv.FormatUint(uint64(gid), 10)},
		{"NFSHomeDirectory", home},
	} {
		if err := s.priv(ctx, s.dscl, append([]string{".", "-create", rec}, kv...)...); err != nil {
			return account{}, fmt.Errorf("create user %s: %w", name, err)
		}
	}
	for _, g := range groups[min(1, len(groups)):] {
		if err := s.priv(ctx, s.dscl, ".", "-append", "/Groups/"+g, "GroupMembership", name); err != nil {
			return account{}, fmt.Errorf("add %s to group %s: %w", name, g, err)
		}
	}
	if err := s.priv(ctx, s.createhomedir, "-c", "-u", name); err != nil {
		return account{}, fmt.Errorf("create home of %s: %w", name, err)
	}
	if err := s.priv(ctx, s.chmod, "700", home); err != nil {
		return account{}, err
	}
	return s.lookupUser(name)
}

// nextUID is the largest UniqueID in use plus one (at least darwinFirstUID).
func (s *darwinSystem) nextUID(ctx context.Context) (uint32, error) {
	out, err := exec.CommandContext(ctx, s.dscl, ".", "-list", "/Users", "UniqueID").Output()
	if err != nil {
		return 0, fmt.Errorf("list users: %w", err)
	}
	next := uint32(darwinFirstUID)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 32); err == nil && uint32(n) >= next && n < 1<<31 {
			next = uint32(n) + 1
		}
	}
	return next, nil
}

func (s *darwinSystem) groupID(ctx context.Context, group string) (uint32, error) {
	out, err := exec.CommandContext(ctx, s.dscl, ".", "-read", "/Groups/"+group, "PrimaryGroupID").Output()
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", group, err)
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), ":")
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s: %w", group, err)
	}
	return uint32(n), nil
}

func (s *darwinSystem) lookupUser(name string) (account, error) {
	out, err := exec.Command(s.dscl, ".", "-read", "/Users/"+name, "UniqueID", "PrimaryGroupID", "NFSHomeDirectory").Output()
	if err != nil {
		if exitCode(err) > 0 {
			return account{}, fmt.Errorf("%w: %s", errNoUser, name)
		}
		return account{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	acct := account{Name: name}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "UniqueID", "PrimaryGroupID":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return account{}, fmt.Errorf("user %s: %s: %w", name, k, err)
			}
			if k == "UniqueID" {
				acct.UID = uint32(n)
			} else {
				acct.GID = uint32(n)
			}
		case "NFSHomeDirectory":
			acct.Home = v
		}
	}
	if acct.UID == 0 {
		return account{}, fmt.Errorf("user %s has no UniqueID", name)
	}
	return acct, nil
}

func (s *darwinSystem) deleteUser(ctx context.Context, name string) error {
	if out, err := exec.CommandContext(ctx, s.dscl, ".", "-search", "/Groups", "GroupMembership", name).Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
				s.priv(ctx, s.dscl, ".", "-delete", "/Groups/"+f[0], "GroupMembership", name)
			}
		}
	}
	var err error
	for range darwinDeleteTry {
		if err = s.priv(ctx, s.dscl, ".", "-delete", "/Users/"+name); err == nil {
			return nil
		}
		if _, lerr := s.lookupUser(name); errors.Is(lerr, errNoUser) {
			return nil
		}
	}
	return err
}

func (s *darwinSystem) makeDisk(ctx context.Context, acct account, name, path string, spec model.ResourcesDisk) error {
	owner := fmt.Sprintf("%d:%d", acct.UID, acct.GID)
	if spec.Type == "" || spec.Type == "dir" {
		if err := s.priv(ctx, s.mkdir, "-p", "-m", "700", path); err != nil {
			return err
		}
		return s.priv(ctx, s.chown, owner, path)
	}
	fs := map[string]string{"hfs+": "HFS+", "exfat": "ExFAT", "fat32": "MS-DOS FAT32"}[spec.Type]
	label := spec.Label
	if label == "" {
		label = name
	}
	size := max(spec.Size, 1)
	img := filepath.Join(s.workspace, acct.Name+"-disk-"+name+".sparseimage")
	if err := s.priv(ctx, s.hdiutil, "create", "-type", "SPARSE", "-fs", fs, "-layout", "NONE", "-volname", label,
		"-size", strconv.FormatUint(uint64(size)*1024, 10)+"m", img); err != nil {
		return err
	}
	if err := s.priv(ctx, s.hdiutil, "attach", img, "-owners", "on", "-nobrowse", "-mountpoint", path); err != nil {
		return err
	}
	if err := s.priv(ctx, s.chown, owner, path); err != nil {
		return err
	}
	return s.priv(ctx, s.mdutil, "-i", "off", path)
}

func (s *darwinSystem) install(ctx context.Context, acct account, src, dst string) error {
	if err := s.priv(ctx, s.cp, "-R", src+"/.", dst+"/"); err != nil {
		return err
	}
	return s.priv(ctx, s.chown, "-R", fmt.Sprintf("%d:%d", acct.UID, acct.GID), dst)
}

func (s *darwinSystem) prepare(ctx context.Context, acct account, _ layout, script string, env []string, _ limits) (launch, error) {
	// su -l starts from a clean environment: the variables travel in a file only the user
	// can read, which the shell removes after reading it.
	f, err := os.CreateTemp("", "fish-env-")
	if err != nil {
		return launch{}, err
	}
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "=" + shellQuote(v) + "\n")
	}
	_, werr := f.WriteString(b.String())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return launch{}, err
	}
	if err := s.priv(ctx, s.chown, acct.Name, f.Name()); err != nil {
		os.Remove(f.Name())
		return launch{}, err
	}
	line := ". " + shellQuote(f.Name()) + "; rm -f " + shellQuote(f.Name()) + "; cd; " + script
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command(s.su, "-l", acct.Name, "-c", line)
	} else {
		cmd = exec.Command(s.sudo, "-n", s.su, "-l", acct.Name, "-c", line)
	}
	return launch{cmd: cmd, release: func() {}}, nil
}

func (s *darwinSystem) killAll(ctx context.Context, acct account, _ layout) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if s.processes(acct.UID) == 0 {
		return nil
	}
	s.priv(ctx, s.killall, "-INT", "-u", acct.Name)
	ictx, icancel := context.WithTimeout(ctx, darwinIntWait)
	poll(ictx, func() (bool, error) { return s.processes(acct.UID) == 0, nil })
	icancel()
	return poll(ctx, func() (bool, error) {
		if s.processes(acct.UID) == 0 {
			return true, nil
		}
		s.priv(ctx, s.killall, "-KILL", "-u", acct.Name)
		return false, nil
	})
}

// processes counts the processes of uid.
func (s *darwinSystem) processes(uid uint32) int {
	out, err := exec.Command("ps", "-axo", "uid=").Output()
	if err != nil {
		return 0
	}
	n := 0
	want := strconv.FormatUint(uint64(uid), 10)
	for _, f := range strings.Fields(string(out)) {
		if f == want {
			n++
		}
	}
	return n
}

func (s *darwinSystem) removeTemp(ctx context.Context, acct account) error {
	uid := strconv.FormatUint(uint64(acct.UID), 10)
	return s.priv(ctx, s.find, "/private/tmp", "/private/var/tmp", "/private/var/folders", "-xdev",
		"-user", uid, "-prune", "-exec", s.rm, "-rf", "{}", "+")
}

func (s *darwinSystem) removeResidue(ctx context.Context, name string, lay layout) error {
	var errs []error
	disks := mapValues(lay.Disks)
	sort.Strings(disks)
	for _, p := range disks {
		if !ownPath(p, name) {
			errs = append(errs, fmt.Errorf("refusing to remove %q: not a path of %s", p, name))
			continue
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			s.priv(ctx, s.hdiutil, "detach", "-force", p) // fails harmlessly for a plain directory
		}
		img := filepath.Join(s.workspace, filepath.Base(p)+".sparseimage")
		if err := s.priv(ctx, s.rm, "-rf", p, img); err != nil {
			errs = append(errs, err)
		}
	}
	if !ownPath(lay.Home, name) {
		errs = append(errs, fmt.Errorf("refusing to remove %q: not a path of %s", lay.Home, name))
	} else if err := s.priv(ctx, s.rm, "-rf", lay.Home); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *darwinSystem) peerUID(netip.AddrPort, netip.AddrPort) (uint32, bool) { return 0, false }

// diskTypeSupported reports whether a disk type can be made on macOS.
func diskTypeSupported(t string) bool {
	switch t {
	case "", "dir", "hfs+", "exfat", "fat32":
		return true
	}
	return false
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Type is the driver type this package registers.
const Type = "native"

func init() { driver.Register(Type, New) }

// Compile-time guards of the capabilities the native driver offers.
var (
	_ driver.Factory        = New
	_ driver.Driver         = (*Driver)(nil)
	_ driver.Inventory      = (*Driver)(nil)
	_ driver.PeerIdentifier = (*Driver)(nil)
)

// Timings of the driver.
const (
	// EntryWait is how long Allocate watches the entry: a non-zero exit within it fails the
	// allocation.
	EntryWait = time.Second
	// selfTestTimeout bounds the factory's self-test.
	selfTestTimeout = time.Minute
	// cleanupTimeout bounds the clean-up after a failed allocation or self-test.
	cleanupTimeout = 2 * time.Minute
)

// Driver is one native driver instance. It is safe for concurrent use.
type Driver struct {
	name      string
	log       *slog.Logger
	nodeUID   model.UID
	endpoints func() driver.Endpoints
	sys       system
	recs      records
	images    *image.Cache
	limits    driver.Limits
	entryWait time.Duration

	locks keyedLocks

	mu      sync.Mutex
	entries map[string]*entry // entries this instance started, by user
}

// New is the driver.Factory of the native driver: it decodes cfg, creates the directories,
// measures the host and runs the self-test (create a user, run a command as it, remove it).
// Any failure disables the instance with an error that says why.
func New(ctx context.Context, env driver.Env, name string, raw json.RawMessage) (driver.Driver, error) {
	if driver.TypeOf(name) != Type {
		return nil, fmt.Errorf("instance name %q is not of type %q", name, Type)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := decodeConfig(raw)
	if err != nil {
		return nil, err
	}
	imagesDir, err := absDir(cfg.ImagesPath, DefaultImagesPath, env.WorkDir, 0o750)
	if err != nil {
		return nil, err
	}
	workspace, err := absDir(cfg.WorkspacePath, DefaultWorkspacePath, env.WorkDir, 0o700)
	if err != nil {
		return nil, err
	}
	lim, err := hostLimits(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sys, err := newSystem(systemParams{cfg: cfg, workspace: workspace, log: log})
	if err != nil {
		return nil, err
	}
	cache, err := image.NewCache(imagesDir, &http.Client{}, image.Auth{User: cfg.DownloadUser, Password: cfg.DownloadPassword}, log)
	if err != nil {
		return nil, err
	}
	cache.RequireNamedSubdir = true // drivers.md §1: native images hold a <name>… directory
	d := &Driver{
		name:      name,
		log:       log,
		nodeUID:   env.NodeUID,
		endpoints: env.Endpoints,
		sys:       sys,
		recs:      records{dir: workspace},
		images:    cache,
		limits:    lim,
		entryWait: EntryWait,
		entries:   map[string]*entry{},
	}
	if err := d.selfTest(ctx); err != nil {
		return nil, fmt.Errorf("native driver self-test failed: %w", err)
	}
	log.Info("native driver ready", "cpu", lim.CPU, "ram_gb", lim.RAM, "workspace", workspace)
	return d, nil
}

// hostLimits measures the host and applies the config's alter and overbook amounts.
func hostLimits(ctx context.Context, cfg Config) (driver.Limits, error) {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return driver.Limits{}, fmt.Errorf("measure host memory: %w", err)
	}
	lim, err := cfg.Limits(uint32(runtime.NumCPU()), uint32(vm.Total>>30))
	if err != nil {
		return driver.Limits{}, fmt.Errorf("%w: %w", errConfig, err)
	}
	return lim, nil
}

// Name is the instance name.
func (d *Driver) Name() string { return d.name }

// IsRemote is false: native resources run on the node itself.
func (d *Driver) IsRemote() bool { return false }

// AvailableCapacity checks the options and applies the generic capacity arithmetic to the
// host's CPU count and RAM.
func (d *Driver) AvailableCapacity(usage driver.Usage, def model.LabelDefinition) (int, error) {
	if _, err := parseOptions(def); err != nil {
		return 0, err
	}
	return driver.Capacity(d.limits, usage, def.Resources), nil
}

// Status reports ALLOCATED while this node's record of the user exists: the record goes only
// once everything of the user is gone.
func (d *Driver) Status(_ context.Context, res model.Resource) (driver.ResourceStatus, error) {
	if !identifierRE.MatchString(res.Identifier) {
		return driver.ResourceNone, nil
	}
	rec, err := d.recs.read(res.Identifier)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return driver.ResourceNone, nil
	case err != nil:
		return "", err
	case rec.NodeUID != d.nodeUID:
		return driver.ResourceNone, nil
	}
	return driver.ResourceAllocated, nil
}

// Deallocate stops every process of the user and removes the user and all its files.
func (d *Driver) Deallocate(ctx context.Context, res model.Resource) error {
	return d.destroy(ctx, res.Identifier)
}

// Resources lists the users this node's instances created and not yet removed.
func (d *Driver) Resources(_ context.Context) ([]string, error) {
	return d.recs.list(d.nodeUID)
}

// Destroy removes a user known only by its identifier, like Deallocate.
func (d *Driver) Destroy(ctx context.Context, identifier string) error {
	return d.destroy(ctx, identifier)
}

// IdentifyPeer maps a connection to the resource whose process opened it: the socket of the
// remote end is found in the kernel's socket table and its owner uid must be one of this
// node's users (see the package documentation).
func (d *Driver) IdentifyPeer(remote, local netip.AddrPort) (string, bool) {
	uid, ok := d.sys.peerUID(remote, local)
	if !ok || uid == 0 {
		return "", false
	}
	ids, err := d.recs.list(d.nodeUID)
	if err != nil {
		d.log.Warn("identify peer: list records", "err", err)
		return "", false
	}
	for _, id := range ids {
		rec, err := d.recs.read(id)
		if err != nil || rec.UID != uid {
			continue
		}
		if acct, err := d.sys.lookupUser(id); err == nil && acct.UID == uid {
			return id, true
		}
	}
	return "", false
}

// keyedLocks serialises work on one identifier.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

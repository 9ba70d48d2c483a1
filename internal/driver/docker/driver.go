package docker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func init() { driver.Register("docker", New) }

// The capabilities the driver provides, checked at compile time.
var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Inventory = (*Driver)(nil)
	_ driver.Tasker    = (*Driver)(nil)
)

// The labels the driver puts on what it creates in the engine.
const (
	LabelNode        = "aquarium-fish.node"        // node UID
	LabelDriver      = "aquarium-fish.driver"      // driver instance name
	LabelResource    = "aquarium-fish.resource"    // resource identifier (container name)
	LabelApplication = "aquarium-fish.application" // application UID
	labelImage       = "aquarium-fish.image"       // <name>:<version> the container runs
	labelCPU         = "aquarium-fish.cpu"         // resources.cpu, for remote usage accounting
	labelRAM         = "aquarium-fish.ram"         // resources.ram (GB)
	labelTenancy     = "aquarium-fish.tenancy"     // "multitenancy,cpu_overbook,ram_overbook" subset
	labelHostPorts   = "aquarium-fish.host-ports"  // on networks: the host ports the firewall opens
)

// engineTimeout bounds the engine calls made without a caller's context.
const engineTimeout = 30 * time.Second

// Driver is one configured docker driver instance.
type Driver struct {
	name   string
	cfg    Config
	env    driver.Env
	log    *slog.Logger
	cli    *client.Client
	cache  *image.Cache
	fw     *firewall // nil when the host firewall is off or unusable
	limits driver.Limits
	now    func() time.Time

	loading keyedMutex   // one engine load per image reference at a time
	loads   atomic.Int64 // image loads done, for tests
}

// New creates the driver instance name: it decodes cfg, connects to the engine and measures its
// capacity. It fails when the engine cannot be reached.
func New(ctx context.Context, env driver.Env, name string, raw json.RawMessage) (driver.Driver, error) {
	cfg, err := parseConfig(raw, env.WorkDir)
	if err != nil {
		return nil, err
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DockerPath != "" {
		log.Debug("docker_path is ignored: the driver uses the engine API", "docker_path", cfg.DockerPath)
	}
	if cfg.WorkspacePath != "" {
		log.Debug("workspace_path is ignored: disks are docker volumes", "workspace_path", cfg.WorkspacePath)
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker engine client: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	info, err := cli.Info(ictx)
	if err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker engine not reachable: %w", err)
	}
	lim, err := cfg.limits(info.NCPU, info.MemTotal)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	cache, err := image.NewCache(cfg.ImagesPath, &http.Client{},
		image.Auth{User: cfg.DownloadUser, Password: cfg.DownloadPassword}, log)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	d := &Driver{
		name:   name,
		cfg:    cfg,
		env:    env,
		log:    log,
		cli:    cli,
		cache:  cache,
		limits: lim,
		now:    time.Now,
	}
	if d.fw = setupFirewall(ictx, cfg, cli, log); d.fw != nil {
		if err := d.restoreRules(ictx); err != nil {
			log.Error("host firewall: restoring the rules of the resources failed", "err", err)
		}
	}
	log.Info("docker engine ready", "host", cli.DaemonHost(), "api", cli.ClientVersion(),
		"engine", info.ServerVersion, "cpu", lim.CPU, "ram_gb", lim.RAM, "images", cfg.ImagesPath,
		"host_firewall", d.fw != nil)
	return d, nil
}

// Name is the instance name.
func (d *Driver) Name() string { return d.name }

// IsRemote reports the is_remote config key.
func (d *Driver) IsRemote() bool { return d.cfg.IsRemote }

// Close releases the engine client.
func (d *Driver) Close() error { return d.cli.Close() }

// AvailableCapacity tells how many more instances of def fit. A remote driver ignores the
// node's usage and counts the Fish containers running on the engine instead (of every node).
func (d *Driver) AvailableCapacity(usage driver.Usage, def model.LabelDefinition) (int, error) {
	if _, err := newPlan(def); err != nil {
		return 0, err
	}
	if d.cfg.IsRemote {
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		defer cancel()
		u, err := d.engineUsage(ctx)
		if err != nil {
			return 0, err
		}
		usage = u
	}
	return driver.Capacity(d.limits, usage, def.Resources), nil
}

// engineUsage sums what the running Fish containers of the engine declared in their labels.
func (d *Driver) engineUsage(ctx context.Context) (driver.Usage, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelNode))})
	if err != nil {
		return driver.Usage{}, fmt.Errorf("docker: list containers: %w", err)
	}
	var u driver.Usage
	for _, c := range list {
		cpu, _ := strconv.ParseUint(c.Labels[labelCPU], 10, 32)
		ram, _ := strconv.ParseUint(c.Labels[labelRAM], 10, 32)
		tenancy := c.Labels[labelTenancy]
		u = u.Add(model.Resources{
			CPU:          uint32(cpu),
			RAM:          uint32(ram),
			Multitenancy: strings.Contains(tenancy, "multitenancy"),
			CPUOverbook:  strings.Contains(tenancy, "cpu_overbook"),
			RAMOverbook:  strings.Contains(tenancy, "ram_overbook"),
		})
	}
	return u, nil
}

// Status reports ALLOCATED while the container of res exists.
func (d *Driver) Status(ctx context.Context, res model.Resource) (driver.ResourceStatus, error) {
	_, err := d.ownContainer(ctx, res.Identifier)
	switch {
	case err == nil:
		return driver.ResourceAllocated, nil
	case errors.Is(err, driver.ErrNotFound), errors.Is(err, errForeign):
		return driver.ResourceNone, nil
	default:
		return "", err
	}
}

// identifier names the container of an application: "fish-" and its MAC address without colons
// (drivers.md §3.3), so the same application always gets the same name.
func identifier(app model.UID) string { return "fish-" + hex.EncodeToString(macOf(app)) }

// macOf is the MAC address of the container of an application: the random tail of its UID (the
// first bytes of every UID are the node's), locally administered and unicast.
func macOf(app model.UID) net.HardwareAddr {
	mac := net.HardwareAddr(slices.Clone(app[10:16]))
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// bridgeName is the host interface of a resource's network (at most 15 characters).
func bridgeName(id string) string { return "fb-" + strings.TrimPrefix(id, "fish-") }

// ownLabels are the labels of everything created for resource id of application app.
func (d *Driver) ownLabels(id string, app model.UID) map[string]string {
	return map[string]string{
		LabelNode:        d.env.NodeUID.String(),
		LabelDriver:      d.name,
		LabelResource:    id,
		LabelApplication: app.String(),
	}
}

// ours reports whether labels mark an object of this node and driver instance.
func (d *Driver) ours(labels map[string]string) bool {
	return labels[LabelNode] == d.env.NodeUID.String() && labels[LabelDriver] == d.name
}

// ownFilter selects the objects of this node and driver instance, and of resource id if not "".
func (d *Driver) ownFilter(id string) filters.Args {
	f := filters.NewArgs(
		filters.Arg("label", LabelNode+"="+d.env.NodeUID.String()),
		filters.Arg("label", LabelDriver+"="+d.name),
	)
	if id != "" {
		f.Add("label", LabelResource+"="+id)
	}
	return f
}

func tenancyLabel(r model.Resources) string {
	var parts []string
	if r.Multitenancy {
		parts = append(parts, "multitenancy")
	}
	if r.CPUOverbook {
		parts = append(parts, "cpu_overbook")
	}
	if r.RAMOverbook {
		parts = append(parts, "ram_overbook")
	}
	return strings.Join(parts, ",")
}

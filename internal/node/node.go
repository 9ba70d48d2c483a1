package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	apispec "github.com/aquarium-fish/aquarium-fish/api"
	"github.com/aquarium-fish/aquarium-fish/internal/api"
	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/executor"
	"github.com/aquarium-fish/aquarium-fish/internal/logging"
	"github.com/aquarium-fish/aquarium-fish/internal/meta"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/proxy"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve"
	"github.com/aquarium-fish/aquarium-fish/internal/scheduler"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/tlsutil"
)

// Build describes the running program.
type Build struct {
	Version string
	Time    string
}

// httpDrain bounds how long a stop waits for in-flight requests: the harness expects the
// process gone within about a second of SIGINT.
const httpDrain = 300 * time.Millisecond

// Run runs a node until ctx ends or the API asks it to shut down. Logs go to out; the admin
// password line goes to errOut.
func Run(ctx context.Context, cfg config.Config, b Build, out, errOut io.Writer) error {
	n, err := Start(ctx, cfg, b, out, errOut)
	if err != nil {
		return err
	}
	return n.Wait(ctx)
}

// Start starts a node and returns once it serves ("Fish initialized"). Wait runs it.
func Start(ctx context.Context, cfg config.Config, b Build, out, errOut io.Writer) (*Node, error) {
	return StartWith(ctx, cfg, b, Options{}, out, errOut)
}

// StartWith is Start with the knobs of tests and benchmarks (fault injection, short deadlines).
func StartWith(ctx context.Context, cfg config.Config, b Build, opts Options, out, errOut io.Writer) (*Node, error) {
	logger := logging.New(out, cfg.LogLevel, cfg.Timestamp)
	logger.Info(fmt.Sprintf("Aquarium Fish %s (%s)", b.Version, b.Time))
	n, err := start(ctx, cfg, opts, logger, out, errOut)
	if err != nil {
		logger.Error(err.Error())
		return nil, err
	}
	return n, nil
}

// Wait blocks until ctx ends or the API asks the node to stop, then stops it gracefully.
func (n *Node) Wait(ctx context.Context) error { return n.wait(ctx) }

// Addr is the address the API listens on.
func (n *Node) Addr() string { return n.addr }

// UID is the node's UID.
func (n *Node) UID() string { return n.st.NodeID() }

// Kill stops the node abruptly, as a crash would: no leadership hand-over, no draining.
func (n *Node) Kill() {
	if n.srv != nil {
		n.srv.Close()
	}
	if n.reqLog != nil {
		n.reqLog.Close()
	}
	if n.cancel != nil {
		n.cancel()
	}
	if n.proxy != nil {
		n.proxy.Close()
	}
	n.loops.Wait()
	n.st.Close()
}

// Node is a running node.
type Node struct {
	addr    string
	cfg     config.Config
	log     *slog.Logger
	st      *store.Store
	srv     *http.Server
	srvErr  chan error
	reqLog  *lineBatch // the request log lines, written in batches
	proxy   *proxy.Proxy
	stopped chan struct{} // closed by the API shutdown
	stop    func()
	drivers *drivers
	leave   atomic.Bool        // the API asked to stop: leave the cluster too
	cancel  context.CancelFunc // stops the background loops
	loops   sync.WaitGroup
}

func start(ctx context.Context, cfg config.Config, opts Options, logger *slog.Logger, out, errOut io.Writer) (*Node, error) {
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	logger.Info("Fish init TLS...")
	paths := tlsutil.NewPaths(cfg.Directory, cfg.TLSCACrt, cfg.TLSCrt, cfg.TLSKey)
	if err := tlsutil.Ensure(paths, cfg.NodeName, cfg.NodeAddress); err != nil {
		return nil, fmt.Errorf("unable to init TLS: %w", err)
	}
	mat, err := tlsutil.Load(paths)
	if err != nil {
		return nil, fmt.Errorf("unable to load TLS material: %w", err)
	}
	uid, err := mat.UID()
	if err != nil {
		return nil, err
	}
	pub, err := tlsutil.PubKeyDER(mat.Leaf.PublicKey)
	if err != nil {
		return nil, err
	}

	// The API port is bound first: raft traffic rides on it, and a node advertises the address
	// it really listens on unless node_address is configured.
	ln, err := net.Listen("tcp", cfg.APIAddress)
	if err != nil {
		return nil, fmt.Errorf("unable to listen on %s: %w", cfg.APIAddress, err)
	}
	advertise := cfg.NodeAddress
	if !cfg.NodeAddressSet {
		advertise = ln.Addr().String()
	}
	peers := newPeerTLS(mat, uid.String(), opts.Faults)

	logger.Info("Fish starting ORM...")
	if err := checkIdentity(filepath.Join(cfg.Directory, cfg.NodeAddress), uid); err != nil {
		ln.Close()
		return nil, err
	}
	stream := store.NewStreamLayer(advertise, peers.dialRaft)
	st, err := store.Open(store.Config{
		Dir:     filepath.Join(cfg.Directory, cfg.NodeAddress),
		NodeID:  uid.String(),
		Address: advertise,
		Stream:  stream,
		Client:  peers.client,
		Join:    len(cfg.ClusterJoin) > 0,
		Log:     logger,
		Alone:   len(cfg.ClusterJoin) == 0,

		HeartbeatTimeout: opts.Timing.Raft,
		ApplyTimeout:     opts.Timing.Apply,
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("unable to start the store: %w", err)
	}
	n := &Node{cfg: cfg, log: logger, st: st, stopped: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			n.shutdown()
		}
	}()

	// Serve from now on: raft peers reach this node through the HTTPS port; the API routes are
	// registered below, before "Fish initialized" tells clients to come.
	mux := http.NewServeMux()
	mux.Handle("/cluster/v1/", st.ClusterHandler(peers.verifyRequest))
	mux.Handle("/cluster/v1", http.NotFoundHandler()) // not a redirect to the subtree
	// Every request is logged, one JSON line on stdout (api-v1.md §1); a path that is not clean
	// is answered, never redirected (§1.1).
	n.reqLog = newLineBatch(out)
	handler := requestLog(api.ExactPaths(mux), n.reqLog)
	n.srv = newServer(handler, mat, stream, peers, logger)
	n.srv.RegisterOnShutdown(stream.DropConns)
	n.srvErr = make(chan error, 1)
	go func() { n.srvErr <- n.srv.Serve(tls.NewListener(ln, n.srv.TLSConfig)) }()

	switch {
	case st.Existing():
		// A member that comes back (maybe at a new address, maybe after it left) tells the
		// cluster where it is; it does not wait for that to serve from its state.
		if targets := rejoinTargets(cfg.ClusterJoin, st.Peers()); len(targets) > 0 {
			logger.Info("Fish joining cluster...")
			go func() {
				jctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				st.Join(jctx, targets)
			}()
		}
	case len(cfg.ClusterJoin) > 0:
		logger.Info("Fish joining cluster...")
		joinCtx, cancelJoin := context.WithTimeout(ctx, 5*time.Minute)
		err := st.Join(joinCtx, cfg.ClusterJoin)
		cancelJoin()
		if err != nil {
			return nil, err
		}
	}
	readyCtx, cancelReady := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelReady()
	if err := st.WaitReady(readyCtx); err != nil {
		return nil, err
	}

	logger.Info("Fish starting node...")
	if len(cfg.ClusterJoin) == 0 {
		// A joining node takes its users, admin included, from the cluster.
		if err := ensureAdmin(ctx, st, errOut); err != nil {
			return nil, err
		}
	}
	identifiers, location, err := register(ctx, logger, st, cfg, advertise, uid, pub)
	if err != nil {
		return nil, err
	}
	logger.Info(fmt.Sprintf("Fish: Using the next node identifiers: %v", identifiers))

	var endpoints struct {
		sync.Mutex
		driver.Endpoints
	}
	cwd, _ := os.Getwd()
	drv, err := enableDrivers(ctx, logger, driver.Env{
		Log:      logger,
		WorkDir:  cwd,
		NodeUID:  uid,
		NodeName: cfg.NodeName,
		Endpoints: func() driver.Endpoints {
			endpoints.Lock()
			defer endpoints.Unlock()
			return endpoints.Endpoints
		},
	}, cfg.Drivers)
	if err != nil {
		return nil, err
	}
	n.drivers = drv

	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	runCtx, stop := context.WithCancel(context.Background())
	n.stop = stop
	go func() {
		<-runCtx.Done()
		close(n.stopped)
	}()

	lookup := resources{st: st, node: uid}
	resolver := resolve.NewResolver(lookup, drv.peers, logger.With("component", "resolve"))
	logger.Info("Fish starting socks5 proxy...")
	n.proxy = proxy.New(proxy.Config{Address: cfg.ProxyAddress, Location: location}, resolver, lookup, logger.With("component", "proxy"))
	if addr, err := n.proxy.Start(loopCtx); err != nil {
		logger.Error(fmt.Sprintf("Fish: Unable to start socks5 proxy on %s: %v (resources will have no proxy)", cfg.ProxyAddress, err))
	} else {
		endpoints.Lock()
		endpoints.Proxy = addr
		endpoints.Unlock()
	}
	labels := scheduler.NewLabels(st.State)
	exec := executor.New(executor.Config{
		NodeUID:         uid,
		Store:           st,
		State:           st.State,
		Bus:             st.Bus(),
		Drivers:         drv.all,
		Labels:          labels,
		DefaultLifetime: cfg.DefaultResourceLifetime,
		Log:             logger,
	})
	var sched *scheduler.Scheduler
	heartbeat := make(chan struct{}, 1)
	ctl := &control{
		log:  logger,
		base: loopCtx,
		stop: func() { n.leave.Store(true); stop() },
		onChange: func() {
			sched.Nudge()
			select {
			case heartbeat <- struct{}{}:
			default:
			}
		},
		busy: func() int {
			c, err := exec.Busy(loopCtx)
			if err != nil {
				return 1
			}
			return c
		},
		changed: exec.Changed,
	}
	sched = scheduler.New(scheduler.Config{
		NodeUID: uid,
		Store:   st,
		State:   st.State,
		Bus:     st.Bus(),
		Labels:  labels,
		Log:     logger,
		Fitter: func() scheduler.Fitter {
			return scheduler.Fitter{Drivers: drv.all(), Identifiers: identifiers, Maintenance: ctl.Maintenance()}
		},
	})

	logger.Info("Fish starting API...")
	usersChanged := api.Register(mux, api.Deps{
		Store:       st,
		State:       func() api.Reader { return st.State() },
		Auth:        auth.NewCache(0),
		Control:     ctl,
		Voter:       sched,
		Log:         logger,
		NodeUID:     uid,
		NodeName:    cfg.NodeName,
		DriverKnown: driver.Known,
		Roles:       st.Roles,
		Spec:        apispec.Spec,
	})
	meta.NewHandler(resolver, logger.With("component", "meta")).Register(mux)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found"}`+"\n")
	}))
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		endpoints.Lock()
		endpoints.API = ap
		endpoints.Unlock()
	}
	n.addr = ln.Addr().String()
	logger.Info("API listening on: " + n.addr)

	userEvents := st.Bus().Subscribe(256)
	n.go_(func() { watchUsers(loopCtx, userEvents, usersChanged) })
	if err := exec.Reconcile(loopCtx); err != nil {
		return nil, fmt.Errorf("unable to reconcile this node's resources: %w", err)
	}
	n.go_(func() { exec.Run(loopCtx) })
	n.go_(func() { sched.Run(loopCtx) })
	n.go_(func() { beat(loopCtx, logger, st, uid, drv.names, ctl.Maintenance, heartbeat) })
	if every := opts.Timing.Heartbeat; every > 0 {
		n.go_(func() { tick(loopCtx, every, heartbeat) })
	}
	n.go_(func() {
		scheduler.Supervise(loopCtx, scheduler.SupervisorConfig{
			NodeUID:  uid,
			Store:    st,
			State:    st.State,
			IsLeader: st.IsLeader,
			Balance: func(seen map[model.UID]time.Time, grace time.Duration, now time.Time) {
				byID := make(map[string]time.Time, len(seen))
				for id, t := range seen {
					byID[id.String()] = t
				}
				st.Balance(func() map[string]time.Time { return byID }, grace, now)
			},
			Deadlines: opts.Timing.Supervise,
			Log:       logger,
		})
	})
	logger.Info("Fish initialized")
	ok = true
	return n, nil
}

func (n *Node) go_(fn func()) {
	n.loops.Add(1)
	go func() {
		defer n.loops.Done()
		fn()
	}()
}

// wait blocks until a signal or the API asks to stop, then stops gracefully.
func (n *Node) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case <-n.stopped:
	case err = <-n.srvErr:
		err = fmt.Errorf("API server failed: %w", err)
		n.log.Error(err.Error())
	}
	n.shutdown()
	return err
}

// shutdown stops the API (letting in-flight requests finish briefly), the loops, the proxy and
// the store. Allocated resources stay: the next start recovers them.
func (n *Node) shutdown() {
	if n.st != nil {
		if n.leave.Load() {
			n.st.Leave(context.Background())
		} else {
			n.st.TransferLeadership()
		}
	}
	if n.srv != nil {
		dctx, cancel := context.WithTimeout(context.Background(), httpDrain)
		if err := n.srv.Shutdown(dctx); err != nil {
			n.log.Warn("Fish forced to shutdown: " + err.Error())
			n.srv.Close()
		}
		cancel()
	}
	if n.reqLog != nil {
		n.reqLog.Close()
	}
	n.log.Info("Fish stopping...")
	if n.cancel != nil {
		n.cancel()
	}
	if n.proxy != nil {
		n.proxy.Close()
	}
	n.loops.Wait()
	if n.drivers != nil {
		n.drivers.close()
	}
	if err := n.st.Close(); err != nil {
		n.log.Warn("store close: " + err.Error())
	}
	n.log.Info("Fish stopped")
}

// ensureAdmin creates the admin user on a brand new cluster and prints its password once.
func ensureAdmin(ctx context.Context, st *store.Store, errOut io.Writer) error {
	_, err := st.State().User(ctx, auth.AdminName)
	if err == nil {
		return nil
	}
	if !errors.Is(err, state.ErrNotFound) {
		return err
	}
	u, err := api.CreateUser(ctx, st, auth.AdminName, "", time.Now())
	if errors.Is(err, state.ErrExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	fmt.Fprintf(errOut, "Admin user pass: %s\n", u.Password)
	return nil
}

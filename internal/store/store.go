package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// Errors of Apply that are not the command's fault.
var (
	ErrNoLeader = errors.New("no cluster leader: the write cannot be committed now")
	ErrClosed   = errors.New("store is closed")
)

// campaignTimeout bounds the self-addressed TimeoutNow that makes a lone node elect itself.
const campaignTimeout = time.Second

// Config configures a store.
type Config struct {
	Dir    string // raft log, snapshots and the state database live here
	NodeID string // this node's raft ID (its node UID)
	// Address is this node's raft address; Stream carries raft traffic between nodes. Without
	// a Stream an in-memory transport is used, which suits a node that never joins others.
	Address string
	Stream  *StreamLayer
	// Client talks to peers' cluster endpoints (forwarding, join) with this node's certificate.
	Client *http.Client
	// Join says the node joins an existing cluster instead of bootstrapping its own.
	Join bool
	Log  *slog.Logger
	Now  func() time.Time // the clock stamped into commands; time.Now when nil
	// Alone says the node expects to be the only voter (no join configured, no peers known), so
	// it may elect itself without waiting a full election timeout.
	Alone bool
	// Timing; zero values pick defaults suited to a LAN.
	HeartbeatTimeout time.Duration
	ApplyTimeout     time.Duration
}

// Store is the replicated state of a node.
type Store struct {
	cfg  Config
	raft *raft.Raft
	fsm  *fsm
	// applied remembers the latest results, so a retried write is not applied twice.
	applied *applied
	// book tells raft where members that came back on a new address are now.
	book *addressBook
	// members tells since when the leader has seen each member (Balance).
	members *memberClock
	bus     *Bus
	logs    *raftboltdb.BoltStore
	trans   raft.Transport
	log     *slog.Logger
	// existing says the node started on raft state of an earlier run.
	existing bool
	// campaign says the node is its cluster's only voter: it elects itself at once instead of
	// waiting a heartbeat timeout.
	campaign bool
}

// Existing reports whether the node started on the raft state of an earlier run.
func (s *Store) Existing() bool { return s.existing }

// Open starts raft on dir, bootstrapping a one-node cluster when dir holds no raft state.
func Open(cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 300 * time.Millisecond
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	log := cfg.Log.With("component", "store")
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	dbPath := filepath.Join(cfg.Dir, "sqlite.db")
	// The database is rebuilt from the latest snapshot and the log tail (see the package doc).
	removeStale(dbPath)
	if err := state.Remove(dbPath); err != nil {
		return nil, fmt.Errorf("reset state db: %w", err)
	}
	db, err := state.Open(dbPath)
	if err != nil {
		return nil, err
	}
	bus := NewBus()
	f := &fsm{path: dbPath, bus: bus, log: log}
	f.db.Store(db)

	hlog := newHCLogger(cfg.Log)
	logs, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.Dir, "raft.db"),
		// The freelist is rebuilt when the file is opened: not syncing it halves the writes of
		// every commit without weakening durability.
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true},
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		logs.Close()
		db.Close()
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	var trans raft.Transport
	book := newAddressBook()
	if cfg.Stream != nil {
		trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:                cfg.Stream,
			MaxPool:               4,
			Timeout:               2 * time.Second,
			Logger:                hlog,
			ServerAddressProvider: book,
		})
	} else {
		_, trans = raft.NewInmemTransport(raft.ServerAddress(cfg.Address))
	}
	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		logs.Close()
		db.Close()
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	// The leader lease cannot be changed later: it must stay longer than the gaps between
	// heartbeats (a tenth of the heartbeat timeout, more under load), or a leader of several
	// voters steps down again and again. A node that believes it is alone does not shorten its
	// timeouts to elect itself fast: WaitReady asks it to campaign at once instead.
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.HeartbeatTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = 2048
	rc.SnapshotInterval = 30 * time.Second
	rc.TrailingLogs = 4096
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256

	if !existing && !cfg.Join {
		boot := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: trans.LocalAddr()}}}
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, boot); err != nil {
			logs.Close()
			db.Close()
			return nil, fmt.Errorf("bootstrap raft: %w", err)
		}
	}
	rec := newApplied()
	r, err := raft.NewRaft(rc, recordingFSM{fsm: f, rec: rec, snaps: snaps}, logs, logs, snaps, trans)
	if err != nil {
		logs.Close()
		f.db.Load().Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	campaign := cfg.Alone && (!existing || alone(logs, snaps, rc.LocalID))
	return &Store{cfg: cfg, raft: r, fsm: f, applied: rec, book: book, members: newMemberClock(), bus: bus, logs: logs, trans: trans, log: log, existing: existing, campaign: campaign}, nil
}

// State is the current state database, for reading.
func (s *Store) State() *state.DB { return s.fsm.db.Load() }

// Bus carries the events of committed commands.
func (s *Store) Bus() *Bus { return s.bus }

// Raft exposes the raft node to the cluster layer.
func (s *Store) Raft() *raft.Raft { return s.raft }

// WaitReady blocks until this node knows a leader and has applied every entry committed before
// the call, so reads see the whole state.
func (s *Store) WaitReady(ctx context.Context) error {
	if s.campaign {
		s.selfElect()
	}
	for {
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for a raft leader: %w", ctx.Err())
		case <-s.raft.LeaderCh():
		case <-time.After(20 * time.Millisecond):
		}
	}
	// A follower catches up with everything the leader applied (its read index) before it
	// serves reads and reconciles its resources: its own commit index only covers its own log,
	// which lacks what was committed while it was away (or before it joined).
	var lastErr error
	for attempt := 0; ; attempt++ {
		if s.raft.State() == raft.Leader {
			if err := s.raft.Barrier(s.cfg.ApplyTimeout).Error(); err != nil {
				return fmt.Errorf("raft barrier: %w", err)
			}
			return nil
		}
		i, err := s.readIndex(ctx)
		if err == nil {
			if err := s.applied.wait(ctx, i); err != nil {
				return fmt.Errorf("catching up with the cluster: %w", err)
			}
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("catching up with the cluster: %w (%v)", ctx.Err(), lastErr)
		case <-time.After(min(20*time.Millisecond<<min(attempt, 5), time.Second)):
		}
	}
}

// Apply proposes a command, waits until it is committed and applied here, and returns the value
// the FSM produced or the reason it refused the command (a state.Err* sentinel, wrapped). On a
// follower the command is forwarded to the leader; results of forwarded commands arrive as JSON
// (see As).
func (s *Store) Apply(ctx context.Context, c command.Command) (any, error) {
	b, err := command.Encode(c, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	switch s.raft.State() {
	case raft.Shutdown:
		return nil, ErrClosed
	case raft.Leader:
	default:
		return s.forward(ctx, b, false)
	}
	deadline := time.Now().Add(s.cfg.ApplyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	v, _, err := s.applyLocal(b, time.Until(deadline))
	if errors.Is(err, ErrNoLeader) {
		// Leadership moved: hand the write to the next leader (as a retry when it may have
		// been committed already), within the same deadline.
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		return s.forward(ctx, b, errors.Is(err, errMaybeApplied))
	}
	return v, err
}

// selfElect makes a lone voter start its election now: it sends itself the TimeoutNow that a
// leadership transfer would send. If that fails, the heartbeat timeout elects it a bit later.
func (s *Store) selfElect() {
	if addr, _ := s.raft.LeaderWithID(); addr != "" {
		return
	}
	id, addr := raft.ServerID(s.cfg.NodeID), s.trans.LocalAddr()
	if inm, ok := s.trans.(*raft.InmemTransport); ok {
		inm.Connect(addr, inm)
	}
	req := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{
		ProtocolVersion: raft.ProtocolVersionMax,
		ID:              []byte(id),
		Addr:            s.trans.EncodePeer(id, addr),
	}}
	done := make(chan error, 1)
	go func() { done <- s.trans.TimeoutNow(id, addr, req, &raft.TimeoutNowResponse{}) }()
	select {
	case err := <-done:
		if err != nil {
			s.log.Debug("self-election request failed; waiting for the heartbeat timeout", "err", err)
		}
	case <-time.After(campaignTimeout):
	}
}

// Snapshot takes a snapshot now (so the next start replays nothing).
func (s *Store) Snapshot() error {
	err := s.raft.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}

// Close stops raft and closes the log and the state.
func (s *Store) Close() error {
	err := s.raft.Shutdown().Error()
	if c, ok := s.trans.(interface{ Close() error }); ok {
		c.Close()
	}
	return errors.Join(err, s.logs.Close(), s.fsm.db.Load().Close())
}

// alone reports whether the latest raft configuration on disk has only this server.
func alone(logs raft.LogStore, snaps raft.SnapshotStore, self raft.ServerID) bool {
	cfg, ok := latestConfiguration(logs, snaps)
	return ok && len(cfg.Servers) == 1 && cfg.Servers[0].ID == self
}

// latestConfiguration reads the newest membership from the log (or the newest snapshot).
func latestConfiguration(logs raft.LogStore, snaps raft.SnapshotStore) (raft.Configuration, bool) {
	first, err1 := logs.FirstIndex()
	last, err2 := logs.LastIndex()
	if err1 == nil && err2 == nil {
		for i := last; i >= first && i > 0; i-- {
			var l raft.Log
			if logs.GetLog(i, &l) != nil {
				break
			}
			if l.Type == raft.LogConfiguration {
				return raft.DecodeConfiguration(l.Data), true
			}
		}
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return raft.Configuration{}, false
	}
	return metas[0].Configuration, true
}

// newHCLogger routes raft's hclog output into slog (warnings and errors only: raft is chatty).
func newHCLogger(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Error,
		Output: slogWriter{log.With("component", "raft")},
	})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// applyAnswer is the leader's answer to a forwarded command.
type applyAnswer struct {
	Index uint64          `json:"index"`
	Kind  string          `json:"kind,omitempty"` // the refusal sentinel, see refusals
	Error string          `json:"error,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// refusals name the state's refusal sentinels on the wire between nodes.
var refusals = map[string]error{
	"not_found": state.ErrNotFound,
	"exists":    state.ErrExists,
	"invalid":   state.ErrInvalid,
	"status":    state.ErrStatus,
	"pubkey":    state.ErrPubkeyChange,
	"no_leader": ErrNoLeader,
}

func refusalKind(err error) string {
	for k, s := range refusals {
		if errors.Is(err, s) {
			return k
		}
	}
	return ""
}

// remoteError is a refusal that came back from the leader: it matches its sentinel.
type remoteError struct {
	kind string
	msg  string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Is(target error) bool {
	return refusals[e.kind] == target
}

// errMaybeApplied is a write that raft had appended when leadership was lost: it may still be
// committed by the next leader, so it may be proposed again only as a retry (see applyOnce).
var errMaybeApplied = fmt.Errorf("%w: leadership lost while committing the write", ErrNoLeader)

// retryHeader marks a forwarded command that may have been proposed before.
const retryHeader = "X-Fish-Retry"

// applyLocal applies encoded command bytes on the leader.
func (s *Store) applyLocal(b []byte, timeout time.Duration) (any, uint64, error) {
	f := s.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		return nil, 0, raftError(err)
	}
	res, _ := f.Response().(state.Result)
	return res.Value, f.Index(), res.Err
}

// raftError maps raft's refusals to the store's errors.
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrLeadershipLost):
		return errMaybeApplied
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return err
}

// applyOnce applies command bytes on the leader. A retry (the bytes may have been proposed
// before and their answer lost) is first looked up among the applied commands, after a barrier
// that applies every entry the leader holds: if it was applied, its result is returned and it
// is not applied again.
func (s *Store) applyOnce(b []byte, retry bool, timeout time.Duration) (any, uint64, error) {
	if retry {
		if err := s.raft.Barrier(timeout).Error(); err != nil {
			if err = raftError(err); errors.Is(err, errMaybeApplied) {
				err = fmt.Errorf("%w: %v", ErrNoLeader, raft.ErrLeadershipLost) // a barrier changes nothing
			}
			return nil, 0, err
		}
		if i, v, ok := s.applied.find(b); ok {
			s.log.Debug("a retried write was applied before: answering its result", "index", i)
			res, _ := v.(state.Result)
			return res.Value, i, res.Err
		}
	}
	return s.applyLocal(b, timeout)
}

// forward sends encoded command bytes to the leader and waits until this node applied them,
// so a client reads its own write through the node it wrote through. When this node becomes
// the leader meanwhile, it applies them itself. retry says the bytes may have been proposed
// already; every attempt after the first is a retry too.
func (s *Store) forward(ctx context.Context, b []byte, retry bool) (any, error) {
	deadline := time.Now().Add(s.cfg.ApplyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var lastErr error
	for attempt := 0; ; attempt++ {
		leader, leaderID := s.raft.LeaderWithID()
		switch {
		case leaderID == raft.ServerID(s.cfg.NodeID) || s.raft.State() == raft.Leader:
			v, _, err := s.applyOnce(b, retry, time.Until(deadline))
			if !errors.Is(err, ErrNoLeader) {
				return v, err
			}
			lastErr = err
			retry = true
		case leader != "" && s.cfg.Client != nil:
			v, err, done := s.forwardTo(ctx, string(leader), b, retry)
			if done {
				return v, err
			}
			lastErr = err
			retry = true // the leader may have applied it even if its answer did not arrive
		}
		// No leader known yet, or it just changed: try again shortly, within the deadline.
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = errors.New("no leader known")
			}
			if errors.Is(lastErr, ErrNoLeader) {
				return nil, lastErr
			}
			return nil, fmt.Errorf("%w: %v", ErrNoLeader, lastErr)
		case <-time.After(min(20*time.Millisecond<<min(attempt, 4), 300*time.Millisecond)):
		}
	}
}

// forwardTo sends command bytes to the leader at addr. done says the answer is final (the
// command was applied, or refused by the state); otherwise err says why it should be retried.
func (s *Store) forwardTo(ctx context.Context, addr string, b []byte, retry bool) (v any, err error, done bool) {
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	if retry {
		hdr.Set(retryHeader, "1")
	}
	ans, err := s.postHeader(ctx, addr, "/cluster/v1/apply", hdr, b)
	if err != nil {
		return nil, err, false
	}
	var a applyAnswer
	if err := json.Unmarshal(ans, &a); err != nil {
		return nil, fmt.Errorf("forward to leader: %w", err), false
	}
	if a.Kind == "no_leader" {
		return nil, &remoteError{kind: a.Kind, msg: a.Error}, false
	}
	if err := s.waitApplied(ctx, a.Index); err != nil {
		// The command is committed and its outcome known: an error now would make the caller
		// believe it failed. Only reading it back through this node may lag a little.
		s.log.Warn("this node lags behind the leader: a forwarded write is not applied here yet", "index", a.Index, "applied", s.raft.AppliedIndex())
	}
	if a.Error != "" {
		return nil, &remoteError{kind: a.Kind, msg: a.Error}, true
	}
	return a.Value, nil, true
}

// post sends a request to a peer's cluster endpoint and returns the body of a 200 answer.
func (s *Store) post(ctx context.Context, addr, path, contentType string, body []byte) ([]byte, error) {
	return s.postHeader(ctx, addr, path, http.Header{"Content-Type": {contentType}}, body)
}

// postHeader is post with request headers.
func (s *Store) postHeader(ctx context.Context, addr, path string, hdr http.Header, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = hdr
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

// waitApplied blocks until this node's FSM applied index i.
func (s *Store) waitApplied(ctx context.Context, i uint64) error {
	return s.applied.wait(ctx, i)
}

// readIndex asks the leader for the index its FSM has applied, after a barrier: once this
// node applied it, it has seen every write acknowledged before the call. A node without a peer
// client only knows its own commit index.
func (s *Store) readIndex(ctx context.Context) (uint64, error) {
	if s.cfg.Client == nil {
		commit, _ := strconv.ParseUint(s.raft.Stats()["commit_index"], 10, 64)
		if commit == 0 {
			return 0, errors.New("nothing committed yet")
		}
		return commit, nil
	}
	leader := s.leaderAddr()
	if leader == "" {
		return 0, ErrNoLeader
	}
	ans, err := s.post(ctx, string(leader), "/cluster/v1/index", "application/json", nil)
	if err != nil {
		return 0, err
	}
	var a struct {
		Index uint64 `json:"index"`
	}
	if err := json.Unmarshal(ans, &a); err != nil {
		return 0, fmt.Errorf("read index: %w", err)
	}
	return a.Index, nil
}

// joinRequest asks the leader to add (or re-address) a node.
type joinRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Leave   bool   `json:"leave,omitempty"`
}

// ClusterHandler serves the node-to-node endpoints. verify must check the caller's client
// certificate (signed by the cluster CA) and return the caller's node UID; nothing here is
// reachable without it.
func (s *Store) ClusterHandler(verify func(*http.Request) (string, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cluster/v1/apply", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v, idx, err := s.applyOnce(b, r.Header.Get(retryHeader) != "", s.cfg.ApplyTimeout)
		a := applyAnswer{Index: idx}
		if err != nil {
			a.Kind, a.Error = refusalKind(err), err.Error()
		} else if v != nil {
			a.Value, _ = json.Marshal(v)
		}
		writeJSON(w, a)
	})
	mux.HandleFunc("POST /cluster/v1/index", func(w http.ResponseWriter, _ *http.Request) {
		err := ErrNoLeader
		if s.raft.State() == raft.Leader {
			err = raftError(s.raft.Barrier(s.cfg.ApplyTimeout).Error())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]uint64{"index": s.applied.index()})
	})
	mux.HandleFunc("POST /cluster/v1/join", func(w http.ResponseWriter, r *http.Request) {
		var req joinRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.ID == "" || req.Address == "" {
			http.Error(w, "bad join request", http.StatusBadRequest)
			return
		}
		if caller, _ := r.Context().Value(callerKey{}).(string); caller == req.ID && !req.Leave {
			// The member itself says where it is now: raft may need to reach it there before
			// the configuration can say so (see addressBook).
			s.book.note(raft.ServerID(req.ID), raft.ServerAddress(req.Address))
		}
		if err := s.membership(r.Context(), req); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]string{"leader": string(s.leaderAddr())})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := verify(r)
		if err != nil {
			s.log.Warn("refused a cluster request", "peer", r.RemoteAddr, "path", r.URL.Path, "err", err)
			http.Error(w, "client certificate is not provided or not signed by the cluster CA", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	})
}

// callerKey carries the node UID of a cluster request's caller in its context.
type callerKey struct{}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Store) leaderAddr() raft.ServerAddress {
	a, _ := s.raft.LeaderWithID()
	return a
}

// As converts an Apply result to T: results of forwarded commands arrive as JSON.
func As[T any](v any) (T, error) {
	var out T
	switch x := v.(type) {
	case T:
		return x, nil
	case json.RawMessage:
		err := json.Unmarshal(x, &out)
		return out, err
	case nil:
		return out, nil
	}
	return out, fmt.Errorf("unexpected result type %T", v)
}

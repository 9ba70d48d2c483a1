package api

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
)

func (s *server) nodeList(r *http.Request, _ string) (any, error) {
	nodes, err := s.State().Nodes(r.Context(), filterParam(r))
	if err == nil && s.Roles != nil {
		roles := s.Roles()
		for i := range nodes {
			nodes[i].Role = roles[nodes[i].UID.String()]
		}
	}
	return listResult(s, "node", nodes, err)
}

func (s *server) nodeThis(r *http.Request, _ string) (any, error) {
	n, err := s.State().Node(r.Context(), s.NodeUID)
	if err == nil && s.Roles != nil {
		n.Role = s.Roles()[n.UID.String()]
	}
	return n, err
}

// maintenanceAnswer echoes the parameters that were given.
type maintenanceAnswer struct {
	Enable        *bool  `json:"enable,omitempty"`
	Shutdown      *bool  `json:"shutdown,omitempty"`
	ShutdownDelay string `json:"shutdown_delay,omitempty"`
}

// nodeMaintenance applies, in this order, shutdown_delay, maintenance (enable, default true) and
// shutdown, as api-v1.md §5.5 says.
func (s *server) nodeMaintenance(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' can set node maintenance")
	}
	var ans maintenanceAnswer
	enable, enableGiven, err := boolParam(r, "enable")
	if err != nil {
		return nil, err
	}
	shutdown, shutdownGiven, err := boolParam(r, "shutdown")
	if err != nil {
		return nil, err
	}
	var delay time.Duration
	q := r.URL.Query()
	if q.Has("shutdown_delay") {
		ans.ShutdownDelay = q.Get("shutdown_delay")
		if delay, err = time.ParseDuration(ans.ShutdownDelay); err != nil {
			return nil, badRequest("Wrong duration format: %v", err)
		}
	}
	if q.Has("shutdown_delay") {
		s.Control.SetShutdownDelay(delay)
	}
	if !enableGiven {
		enable = true
	} else {
		ans.Enable = &enable
	}
	s.Control.SetMaintenance(enable)
	if shutdownGiven {
		ans.Shutdown = &shutdown
		s.Control.SetShutdown(shutdown)
	}
	return ans, nil
}

func (s *server) profilingIndex(_ *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' can see profiling info")
	}
	return rawResponse(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/debug/pprof/"
		pprof.Index(w, r2)
	}), nil
}

// profiling serves one pprof handler by name.
func (s *server) profiling(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' can see profiling info")
	}
	var h http.Handler
	switch name := r.PathValue("handler"); name {
	case "allocs", "block", "goroutine", "heap", "mutex", "threadcreate":
		h = pprof.Handler(name)
	case "cmdline":
		h = http.HandlerFunc(pprof.Cmdline)
	case "profile":
		h = http.HandlerFunc(pprof.Profile)
	case "symbol":
		h = http.HandlerFunc(pprof.Symbol)
	case "trace":
		h = http.HandlerFunc(pprof.Trace)
	default:
		return nil, notFound("Unable to find requested profiling handler")
	}
	return rawResponse(h.ServeHTTP), nil
}

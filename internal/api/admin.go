package api

import (
	"errors"
	"net/http"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func (s *server) resourceList(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can list resource")
	}
	res, err := s.State().Resources(r.Context(), filterParam(r))
	return listResult(s, "resource", res, err)
}

func (s *server) resourceGet(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get resource")
	}
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	res, err := s.State().Resource(r.Context(), uid)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("Resource not found: %s", uid)
	}
	return res, err
}

func (s *server) voteList(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get votes")
	}
	votes, err := s.State().Votes(r.Context(), filterParam(r))
	return listResult(s, "vote", votes, err)
}

func (s *server) locationList(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get locations")
	}
	locs, err := s.State().Locations(r.Context(), filterParam(r))
	return listResult(s, "location", locs, err)
}

func (s *server) locationCreate(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can create location")
	}
	var l model.Location
	if err := decodeBody(r, &l); err != nil {
		return nil, bodyError("error", err)
	}
	if l.Name == "" {
		return nil, badRequest("Unable to create location: name can't be empty")
	}
	l.CreatedAt = s.Now()
	if _, err := s.Store.Apply(r.Context(), command.LocationCreate{Location: l}); err != nil {
		if errors.Is(err, state.ErrExists) {
			return nil, badRequest("Unable to create location: %v", err)
		}
		return nil, err
	}
	return l, nil
}

func (s *server) mappingList(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get service mappings")
	}
	maps, err := s.State().ServiceMappings(r.Context(), filterParam(r))
	return listResult(s, "service mapping", maps, err)
}

func (s *server) mappingGet(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get service mapping")
	}
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	m, err := s.State().ServiceMapping(r.Context(), uid)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("ServiceMapping not found: %s", uid)
	}
	return m, err
}

func (s *server) mappingCreate(r *http.Request, caller string) (any, error) {
	var m model.ServiceMapping
	if err := decodeBody(r, &m); err != nil {
		return nil, bodyError("error", err)
	}
	if m.ApplicationUID == model.NilUID {
		if !auth.IsAdmin(caller) {
			return nil, forbidden("Only 'admin' user can create service mapping with undefined Application")
		}
	} else {
		app, err := s.State().Application(r.Context(), m.ApplicationUID)
		if errors.Is(err, state.ErrNotFound) {
			return nil, badRequest("Unable to find the Application: %s", m.ApplicationUID)
		}
		if err != nil {
			return nil, err
		}
		if !auth.CanAccess(caller, app.OwnerName) {
			return nil, forbidden("Only the owner & admin can assign service mapping to the Application")
		}
	}
	if m.Service == "" || m.Redirect == "" {
		return nil, badRequest("Unable to create service mapping: service and redirect can't be empty")
	}
	m.UID = model.NewUID(s.NodeUID)
	m.CreatedAt = s.Now()
	if _, err := s.Store.Apply(r.Context(), command.ServiceMappingCreate{Mapping: m}); err != nil {
		if errors.Is(err, state.ErrExists) || errors.Is(err, state.ErrNotFound) {
			return nil, badRequest("Unable to create service mapping: %v", err)
		}
		return nil, err
	}
	return m, nil
}

func (s *server) mappingDelete(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can delete service mapping")
	}
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.Apply(r.Context(), command.ServiceMappingDelete{UID: uid}); err != nil {
		return nil, err
	}
	return message{Message: "ServiceMapping removed"}, nil
}

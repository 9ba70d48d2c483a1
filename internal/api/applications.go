package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func (s *server) applicationList(r *http.Request, caller string) (any, error) {
	owner := caller
	if auth.IsAdmin(caller) {
		owner = ""
	}
	apps, err := s.State().Applications(r.Context(), filterParam(r), owner)
	return listResult(s, "application", apps, err)
}

// Texts of an unknown application, per endpoint (api-v1.md §5.3); the status is 404 everywhere
// (README decision 1).
const (
	appNotFound        = "Application not found: %s"
	appUnknown         = "Unable to find the Application: %s"
	appUnknownDealloc  = "Unable to find the application: %s" // sic: lower case on this one row
	deallocRefusedText = "Unable to deallocate the Application with status: %s"
)

// ownedApp reads the application of the {uid} path parameter if the caller may see it; an
// unknown application is a 404 with the text notFoundText (a format taking the UID).
func (s *server) ownedApp(r *http.Request, caller, notFoundText string) (model.Application, error) {
	uid, err := pathUID(r)
	if err != nil {
		return model.Application{}, err
	}
	app, err := s.State().Application(r.Context(), uid)
	if errors.Is(err, state.ErrNotFound) {
		return app, notFound(notFoundText, uid)
	}
	if err != nil {
		return app, err
	}
	if !auth.CanAccess(caller, app.OwnerName) {
		return app, forbidden("Only the owner and admin can request the Application")
	}
	return app, nil
}

// applicationCreateRequest is the body of application create; label_UID is required.
type applicationCreateRequest struct {
	LabelUID *model.UID      `json:"label_UID"`
	Metadata json.RawMessage `json:"metadata"`
}

func (s *server) applicationCreate(r *http.Request, caller string) (any, error) {
	var req applicationCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, bodyError("error", err)
	}
	if req.LabelUID == nil || *req.LabelUID == model.NilUID {
		return nil, badRequest("Unable to create application: Fish: LabelUID can't be unset")
	}
	md, err := freeForm("metadata", req.Metadata, true)
	if err != nil {
		return nil, badRequest("Unable to create application: %v", err)
	}
	now := s.Now()
	app := model.Application{
		UID:       model.NewUID(s.NodeUID),
		CreatedAt: now,
		LabelUID:  *req.LabelUID,
		Metadata:  md,
		OwnerName: caller,
	}
	st := model.ApplicationState{
		UID:         model.NewUID(s.NodeUID),
		CreatedAt:   now,
		Description: "Just created by Fish " + s.NodeName,
	}
	cmd := command.ApplicationCreate{Application: app, State: st}
	done := func(bool) {}
	if s.Voter != nil {
		cmd.Vote, done = s.Voter.Prevote(r.Context(), app)
	}
	_, err = s.Store.Apply(r.Context(), cmd)
	done(err == nil)
	if err != nil {
		if errors.Is(err, state.ErrNotFound) {
			return nil, badRequest("Unable to create application: label %s does not exist", app.LabelUID)
		}
		return nil, err
	}
	return app, nil
}

func (s *server) applicationGet(r *http.Request, caller string) (any, error) {
	return s.ownedApp(r, caller, appNotFound)
}

func (s *server) applicationState(r *http.Request, caller string) (any, error) {
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	st, owner, err := s.State().OwnedState(r.Context(), uid)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound(appUnknown, uid)
	}
	if err != nil {
		return nil, err
	}
	if !auth.CanAccess(caller, owner) {
		return nil, forbidden("Only the owner and admin can request the Application")
	}
	return st, nil
}

func (s *server) applicationResource(r *http.Request, caller string) (any, error) {
	app, err := s.ownedApp(r, caller, appUnknown)
	if err != nil {
		return nil, err
	}
	res, err := s.State().ApplicationResource(r.Context(), app.UID)
	if errors.Is(err, state.ErrNotFound) {
		// Not allocated yet, or already deallocated.
		return nil, notFound("Resource not found: record not found")
	}
	return res, err
}

func (s *server) applicationDeallocate(r *http.Request, caller string) (any, error) {
	app, err := s.ownedApp(r, caller, appUnknownDealloc)
	if err != nil {
		return nil, err
	}
	st := model.ApplicationState{
		UID:            model.NewUID(s.NodeUID),
		ApplicationUID: app.UID,
		CreatedAt:      s.Now(),
		Description:    "Requested by user " + caller,
	}
	v, err := s.Store.Apply(r.Context(), command.ApplicationDealloc{State: st})
	if errors.Is(err, state.ErrStatus) {
		return nil, badRequest(deallocRefusedText, s.refusedStatus(r, app.UID, err))
	}
	return v, err
}

// refusedStatus is the status for which the state refused a deallocation. The refusal names it
// last ("... with status: DEALLOCATED"), also when it came back from the leader as text; should
// it not, the status is read from the local state.
func (s *server) refusedStatus(r *http.Request, app model.UID, err error) model.Status {
	msg := err.Error()
	if i := strings.LastIndex(msg, "status: "); i >= 0 {
		if st := model.Status(msg[i+len("status: "):]); st.Active() || st.Final() || st == model.StatusDeallocate {
			return st
		}
	}
	cur, _, rerr := s.State().OwnedState(r.Context(), app)
	if rerr != nil {
		s.log.Warn("unable to read the status of a refused deallocation", "app", app, "err", rerr)
	}
	return cur.Status
}

func (s *server) taskList(r *http.Request, caller string) (any, error) {
	app, err := s.ownedApp(r, caller, appUnknown)
	if err != nil {
		return nil, err
	}
	tasks, err := s.State().Tasks(r.Context(), app.UID, filterParam(r))
	return listResult(s, "task", tasks, err)
}

// taskCreateRequest is the body of task create.
type taskCreateRequest struct {
	Task    string          `json:"task"`
	When    model.Status    `json:"when"`
	Options json.RawMessage `json:"options"`
	Result  json.RawMessage `json:"result"`
}

func (s *server) taskCreate(r *http.Request, caller string) (any, error) {
	app, err := s.ownedApp(r, caller, appUnknown)
	if err != nil {
		return nil, err
	}
	var req taskCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, bodyError("error", err)
	}
	if req.Task == "" {
		return nil, badRequest("Unable to create ApplicationTask: Fish: Task can't be empty")
	}
	// "when" is not validated (api-v1.md §4.9): a task for a status that never comes is stored
	// and never runs.
	// Free-form fields are objects in every answer (README decision 3), like label and
	// application metadata.
	opts, err := freeForm("options", req.Options, true)
	if err != nil {
		return nil, badRequest("Unable to create ApplicationTask: %v", err)
	}
	result, err := freeForm("result", req.Result, true)
	if err != nil {
		return nil, badRequest("Unable to create ApplicationTask: %v", err)
	}
	now := s.Now()
	t := model.ApplicationTask{
		UID:            model.NewUID(s.NodeUID),
		ApplicationUID: app.UID,
		CreatedAt:      now,
		UpdatedAt:      now,
		Options:        opts,
		Result:         result,
		Task:           req.Task,
		When:           req.When,
	}
	if _, err := s.Store.Apply(r.Context(), command.TaskCreate{Task: t}); err != nil {
		return nil, err
	}
	return t, nil
}

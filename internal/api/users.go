package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func (s *server) userList(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can list users")
	}
	users, err := s.State().Users(r.Context(), filterParam(r))
	return listResult(s, "user", users, err)
}

func (s *server) userMe(r *http.Request, caller string) (any, error) {
	return s.State().User(r.Context(), caller)
}

func (s *server) userGet(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can get user")
	}
	u, err := s.State().User(r.Context(), r.PathValue("name"))
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("User not found: record not found")
	}
	return u, err
}

// userCreateRequest is the UserAPIPassword body.
type userCreateRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (s *server) userCreate(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can create user")
	}
	var req userCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, bodyError("message", err)
	}
	if req.Name == "" {
		return nil, badRequest("Unable to create user: name can't be empty")
	}
	if strings.ContainsRune(req.Name, ':') || strings.TrimSpace(req.Name) != req.Name {
		// Basic auth splits at the first colon: such a user could never log in.
		return nil, badRequest("Unable to create user: name can't contain ':' or start or end with spaces")
	}
	u, err := CreateUser(r.Context(), s.Store, req.Name, req.Password, s.Now())
	if errors.Is(err, state.ErrExists) {
		return nil, badRequest("Unable to create user: %v", err)
	}
	return u, err
}

// CreateUser hashes the password (generating one when empty) and adds the user. The returned
// User carries the generated password, never a given one.
func CreateUser(ctx context.Context, st Store, name, password string, now time.Time) (model.User, error) {
	generated := ""
	if password == "" {
		p, err := auth.GeneratePassword()
		if err != nil {
			return model.User{}, err
		}
		password, generated = p, p
	}
	h, err := auth.NewHash(password)
	if err != nil {
		return model.User{}, err
	}
	enc, err := json.Marshal(h)
	if err != nil {
		return model.User{}, err
	}
	u := model.User{Name: name, CreatedAt: now, UpdatedAt: now, Hash: model.UserHash{Algo: h.Algo}}
	if _, err := st.Apply(ctx, command.UserCreate{User: u, Hash: enc}); err != nil {
		return model.User{}, err
	}
	u.Password = generated
	return u, nil
}

func (s *server) userDelete(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can delete user")
	}
	name := r.PathValue("name")
	if auth.IsAdmin(name) {
		return nil, badRequest("the admin user can't be deleted")
	}
	if _, err := s.Store.Apply(r.Context(), command.UserDelete{Name: name}); err != nil {
		return nil, err
	}
	return message{Message: "User removed"}, nil
}

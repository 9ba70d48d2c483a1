package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func (s *server) labelList(r *http.Request, _ string) (any, error) {
	labels, err := s.State().Labels(r.Context(), filterParam(r))
	return listResult(s, "label", labels, err)
}

func (s *server) labelGet(r *http.Request, _ string) (any, error) {
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	l, err := s.State().Label(r.Context(), uid)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("Label not found: record not found")
	}
	return l, err
}

func (s *server) labelCreate(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can create label")
	}
	var l model.Label
	if err := decodeBody(r, &l); err != nil {
		return nil, bodyError("message", err)
	}
	if err := s.validateLabel(&l); err != nil {
		return nil, badRequest("Unable to create label: %v", err)
	}
	l.UID = model.NewUID(s.NodeUID)
	l.CreatedAt = s.Now()
	if _, err := s.Store.Apply(r.Context(), command.LabelCreate{Label: l}); err != nil {
		if errors.Is(err, state.ErrExists) {
			return nil, badRequest("Unable to create label: %v", err)
		}
		return nil, err
	}
	return l, nil
}

// validateLabel checks a label before it is stored; labels are immutable, so this is the only
// chance to refuse one that could never be allocated.
func (s *server) validateLabel(l *model.Label) error {
	// The texts the spec gives (api-v1.md §4.4) keep their "Fish: " prefix: they are wire-exact.
	if l.Name == "" {
		return errorf("Fish: Name can't be empty")
	}
	if len(l.Definitions) == 0 {
		return errors.New("definitions can't be empty: a label needs at least one definition")
	}
	for i := range l.Definitions {
		d := &l.Definitions[i]
		if d.Driver == "" {
			return errorf("Fish: Driver can't be empty in Label Definition %d", i)
		}
		if !s.DriverKnown(d.Driver) {
			return errorf("Unknown driver %q in Label Definition %d (this node has: %v)", d.Driver, i, driver.Types())
		}
		if d.Resources.CPU < 1 {
			return errorf("Fish: Resources CPU can't be less than 1 in Label Definition %d", i)
		}
		if d.Resources.RAM < 1 {
			return errorf("Fish: Resources RAM can't be less than 1 in Label Definition %d", i)
		}
		if d.Resources.Lifetime != "" {
			if _, err := time.ParseDuration(d.Resources.Lifetime); err != nil {
				return errorf("Fish: Resources Lifetime parse error in Label Definition %d: %v", i, err)
			}
		}
		opts, err := freeForm("options", d.Options, true)
		if err != nil {
			return errorf("Options in Label Definition %d: %v", i, err)
		}
		d.Options = opts
	}
	md, err := freeForm("metadata", l.Metadata, true)
	if err != nil {
		return err
	}
	l.Metadata = md
	return nil
}

func (s *server) labelDelete(r *http.Request, caller string) (any, error) {
	if !auth.IsAdmin(caller) {
		return nil, forbidden("Only 'admin' user can delete Label")
	}
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.Apply(r.Context(), command.LabelDelete{UID: uid}); err != nil {
		return nil, err
	}
	return message{Message: "Label removed"}, nil
}

// Package api holds the OpenAPI 3.0 description of the node's REST API v1 (openapi.yaml), which
// the node serves at /api/openapi.yaml, and lists its operations so that the router can be
// checked against it.
package api

import (
	_ "embed"
	"fmt"
	"net/http"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
)

// Spec is the OpenAPI document, as served.
//
//go:embed openapi.yaml
var Spec []byte

// Operation is one method+path of the document.
type Operation struct {
	Method string // upper case, as net/http spells it
	Path   string // as in the document, with {param} templates
	ID     string // operationId
	Auth   bool   // needs HTTP basic authentication
}

// methodOrder sorts the methods of one path the way a reader expects them.
var methodOrder = map[string]int{
	http.MethodGet: 0, http.MethodHead: 1, http.MethodPost: 2, http.MethodPut: 3,
	http.MethodPatch: 4, http.MethodDelete: 5, http.MethodOptions: 6, http.MethodTrace: 7,
	http.MethodConnect: 8,
}

// Load parses Spec into a kin-openapi document, resolving references.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(Spec)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	return doc, nil
}

// Operations parses Spec and returns every operation sorted by path then method. An operation
// needs authentication when its effective security (its own, else the document's) requires at
// least one scheme.
func Operations() ([]Operation, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	var ops []Operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			ops = append(ops, Operation{
				Method: method,
				Path:   path,
				ID:     op.OperationID,
				Auth:   requiresAuth(security),
			})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return methodOrder[ops[i].Method] < methodOrder[ops[j].Method]
	})
	return ops, nil
}

// requiresAuth reports whether no alternative of the requirements is the empty one (which would
// let anonymous callers in).
func requiresAuth(security openapi3.SecurityRequirements) bool {
	if len(security) == 0 {
		return false
	}
	for _, req := range security {
		if len(req) == 0 {
			return false
		}
	}
	return true
}

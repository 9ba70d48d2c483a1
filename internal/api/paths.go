package api

import (
	"net/http"
	"path"
	"strings"
)

// apiRoot is the pattern of the unknown /api/v1/ paths.
const apiRoot = "/api/v1/"

// ExactPaths keeps ServeMux from redirecting a request whose path is not clean ("//", "/./",
// "/../"): the API has exact paths and no redirects (api-v1.md §1.1). Such a path is answered as
// an unknown path: when its clean form is under /api/v1/, by the API after authentication (401
// without credentials, then 404), otherwise 404 {"message":"Not Found"}. next is the node's mux,
// with the API registered.
func ExactPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux cleans the escaped path (an escaped "%2E" is not a dot) and redirects when
		// that changes it; CONNECT requests are routed as they are.
		p := r.URL.EscapedPath()
		clean := cleanPath(p)
		if r.Method == http.MethodConnect || clean == p {
			next.ServeHTTP(w, r)
			return
		}
		if !strings.HasPrefix(clean, apiRoot) {
			writeJSON(w, http.StatusNotFound, message{Message: "Not Found"})
			return
		}
		// apiRoot itself is routed to the API's unknown-path handler only.
		r2 := *r
		u := *r.URL
		u.Path, u.RawPath = apiRoot, ""
		r2.URL = &u
		next.ServeHTTP(w, &r2)
	})
}

// cleanPath is p as ServeMux routes it: rooted, without empty, "." or ".." elements, the
// trailing slash kept.
func cleanPath(p string) string {
	if p != "" && p[0] == '/' && !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p // the common case, without allocating
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// checkUserBody asserts the User wire shape: no secret content, no foreign keys.
func checkUserBody(t *testing.T, what string, body []byte) {
	t.Helper()
	checkLayout(t, what, body)
	var items []json.RawMessage
	if bytes.HasPrefix(body, []byte("[")) {
		if err := json.Unmarshal(body, &items); err != nil {
			t.Fatal(err)
		}
	} else {
		items = []json.RawMessage{body}
	}
	for _, it := range items {
		var u apiUser
		if err := json.Unmarshal(it, &u); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if u.Hash == nil || u.Hash.Algo == "" {
			t.Errorf("%s: hash object with Algo missing: %s", what, it)
		} else if u.Hash.Salt != "" || u.Hash.Hash != "" {
			t.Errorf("%s: the password hash leaves the node: %s", what, it)
		}
		for _, k := range objectKeys(t, it) {
			switch k {
			case "name", "created_at", "updated_at", "hash", "password":
			default:
				t.Errorf("%s: unexpected key %q in a User: %s", what, k, it)
			}
		}
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	adm := n.adminCred()

	// Generated password: returned once, in the creation answer, and it works.
	status, body := n.admin(t, "POST", "/api/v1/user/", map[string]string{"name": "gen"})
	expect(t, "create user", status, body, 200)
	checkUserBody(t, "create user", body)
	var created apiUser
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.Name != "gen" || !passwordRE.MatchString(created.Password) {
		t.Fatalf("created user = %s, want name gen and a generated 64-character password", body)
	}
	gen := cred{"gen", created.Password}
	var me apiUser
	body = n.mustJSON(t, gen, "GET", "/api/v1/user/me/", nil, &me)
	checkUserBody(t, "user me", body)
	if me.Name != "gen" || me.Password != "" {
		t.Errorf("user me = %s, want gen without password", body)
	}

	// Given password (with colons: split at the first one): never echoed.
	const given = "s3cret:with:colons"
	status, body = n.admin(t, "POST", "/api/v1/user/", map[string]string{"name": "given", "password": given})
	expect(t, "create user with password", status, body, 200)
	checkUserBody(t, "create user with password", body)
	if bytes.Contains(body, []byte(given)) || bytes.Contains(body, []byte(`"password"`)) {
		t.Errorf("a given password is echoed: %s", body)
	}
	givenCred := cred{"given", given}
	n.mustJSON(t, givenCred, "GET", "/api/v1/user/me/", nil, &me)
	if me.Name != "given" {
		t.Errorf("user me as given = %q", me.Name)
	}

	// Create errors.
	status, body = n.admin(t, "POST", "/api/v1/user/", map[string]string{"name": "gen"})
	expect(t, "duplicate user", status, body, 400)
	status, body = n.admin(t, "POST", "/api/v1/user/", map[string]string{"name": ""})
	expect(t, "empty user name", status, body, 400)
	for _, name := range []string{"a:b", " padded"} {
		status, body = n.admin(t, "POST", "/api/v1/user/", map[string]string{"name": name})
		expect(t, "user name "+name, status, body, 400)
	}
	status, body = n.admin(t, "POST", "/api/v1/user/", `{"name":`)
	expect(t, "malformed body", status, body, 400)

	// Admin reads.
	var list []apiUser
	body = n.mustJSON(t, adm, "GET", "/api/v1/user/", nil, &list)
	checkUserBody(t, "user list", body)
	var names []string
	for _, u := range list {
		names = append(names, u.Name)
	}
	if strings.Join(names, ",") != "admin,gen,given" {
		t.Errorf("user list = %v, want admin,gen,given in creation order", names)
	}
	body = n.mustJSON(t, adm, "GET", "/api/v1/user/gen", nil, &me)
	checkUserBody(t, "user get", body)
	if me.Name != "gen" {
		t.Errorf("user get = %s", body)
	}
	status, body = n.admin(t, "GET", "/api/v1/user/nobody", nil)
	expect(t, "unknown user", status, body, 404)

	// A regular user may only see itself.
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/user/"},
		{"POST", "/api/v1/user/"},
		{"GET", "/api/v1/user/gen"},
		{"GET", "/api/v1/user/admin"},
		{"DELETE", "/api/v1/user/given"},
	} {
		var b any
		if c.method == "POST" {
			b = map[string]string{"name": "sneaky"}
		}
		status, body := n.as(t, gen, c.method, c.path, b)
		expect(t, c.method+" "+c.path+" as a user", status, body, http.StatusForbidden)
	}

	// /api/v1/user/me without the slash is the user named "me".
	status, body = n.admin(t, "GET", "/api/v1/user/me", nil)
	expect(t, "admin GET /user/me", status, body, 404)
	status, body = n.as(t, gen, "GET", "/api/v1/user/me", nil)
	expect(t, "user GET /user/me", status, body, 403)

	// Delete: the user can no longer log in; deleting again is fine.
	status, body = n.admin(t, "DELETE", "/api/v1/user/given", nil)
	expect(t, "delete user", status, body, 200)
	if string(body) != "{\"message\":\"User removed\"}\n" && string(body) != `{"message":"User removed"}` {
		t.Errorf("delete user answer %q", body)
	}
	status, body = n.as(t, givenCred, "GET", "/api/v1/user/me/", nil)
	expect(t, "deleted user logs in", status, body, 401)
	status, body = n.admin(t, "DELETE", "/api/v1/user/given", nil)
	expect(t, "delete a missing user", status, body, 200)

	// The credential cache follows the user: re-created with another password, the old one
	// no longer works.
	n.mustJSON(t, adm, "POST", "/api/v1/user/", map[string]string{"name": "given", "password": "second-password"}, nil)
	status, body = n.as(t, givenCred, "GET", "/api/v1/user/me/", nil)
	expect(t, "old password of a re-created user", status, body, 401)
	n.mustJSON(t, cred{"given", "second-password"}, "GET", "/api/v1/user/me/", nil, nil)

	// The user filter.
	body = n.mustJSON(t, adm, "GET", withFilter("/api/v1/user/", "name='gen'"), nil, &list)
	if len(list) != 1 || list[0].Name != "gen" {
		t.Errorf("user filter name='gen' = %s", body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")

	unauthorized := func(what string, header string) {
		t.Helper()
		req := n.newRequest(t, "GET", "/api/v1/label/", nil, "")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, body := n.send(t, req)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401: %s", what, resp.StatusCode, body)
			return
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != "basic realm=Restricted" {
			t.Errorf("%s: WWW-Authenticate %q, want %q", what, got, "basic realm=Restricted")
		}
		if strings.TrimSpace(string(body)) != `{"message":"Unauthorized"}` {
			t.Errorf("%s: body %q", what, body)
		}
	}
	unauthorized("no credentials", "")
	unauthorized("wrong password", basicHeader("someone", u.pass+"x"))
	unauthorized("unknown user", basicHeader("nobody", u.pass))
	unauthorized("admin with the user's password", basicHeader("admin", u.pass))
	unauthorized("other scheme", "Bearer "+u.pass)

	// Not base64.
	req := n.newRequest(t, "GET", "/api/v1/label/", nil, "")
	req.Header.Set("Authorization", "Basic !!!not-base64!!!")
	resp, body := n.send(t, req)
	expect(t, "bad base64", resp.StatusCode, body, http.StatusBadRequest)

	// The scheme word is case-insensitive.
	req = n.newRequest(t, "GET", "/api/v1/user/me/", nil, "")
	req.Header.Set("Authorization", "basic"+strings.TrimPrefix(basicHeader(u.user, u.pass), "Basic"))
	resp, body = n.send(t, req)
	expect(t, "lower-case basic", resp.StatusCode, body, http.StatusOK)

	// Many authenticated requests stay fast (verifications are cached).
	for range 50 {
		n.mustJSON(t, u, "GET", "/api/v1/user/me/", nil, nil)
	}
}

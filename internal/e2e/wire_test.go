package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The objects of api-v1.md §4 as a client decodes them.

type apiUser struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Hash      *struct {
		Algo string `json:"Algo"`
		Salt string `json:"Salt"`
		Hash string `json:"Hash"`
	} `json:"hash"`
	Password string `json:"password"`
}

type label struct {
	UID         string          `json:"UID,omitempty"`
	CreatedAt   time.Time       `json:"created_at,omitzero"`
	Definitions []definition    `json:"definitions"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Name        string          `json:"name"`
	Version     int             `json:"version"`
}

type definition struct {
	Driver    string          `json:"driver"`
	Options   json.RawMessage `json:"options,omitempty"`
	Resources resources       `json:"resources"`
}

type resources struct {
	CPU          int      `json:"cpu"`
	RAM          int      `json:"ram"`
	Lifetime     string   `json:"lifetime,omitempty"`
	NodeFilter   []string `json:"node_filter,omitempty"`
	Multitenancy bool     `json:"multitenancy,omitempty"`
	CPUOverbook  bool     `json:"cpu_overbook,omitempty"`
	RAMOverbook  bool     `json:"ram_overbook,omitempty"`
	Network      string   `json:"network,omitempty"`
}

type application struct {
	UID       string          `json:"UID"`
	CreatedAt time.Time       `json:"created_at"`
	LabelUID  string          `json:"label_UID"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	OwnerName string          `json:"owner_name"`
}

type appState struct {
	UID            string    `json:"UID"`
	ApplicationUID string    `json:"application_UID"`
	CreatedAt      time.Time `json:"created_at"`
	Status         string    `json:"status"`
	Description    string    `json:"description"`
}

type resource struct {
	UID             string          `json:"UID"`
	ApplicationUID  string          `json:"application_UID"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	DefinitionIndex int             `json:"definition_index"`
	HwAddr          string          `json:"hw_addr"`
	Identifier      string          `json:"identifier"`
	IPAddr          string          `json:"ip_addr"`
	LabelUID        string          `json:"label_UID"`
	Metadata        json.RawMessage `json:"metadata"`
	NodeUID         string          `json:"node_UID"`
}

type task struct {
	UID            string          `json:"UID"`
	ApplicationUID string          `json:"application_UID"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	Options        json.RawMessage `json:"options,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	Task           string          `json:"task"`
	When           string          `json:"when"`
}

type vote struct {
	UID            string    `json:"UID"`
	ApplicationUID string    `json:"application_UID"`
	Available      int       `json:"available"`
	CreatedAt      time.Time `json:"created_at"`
	NodeUID        string    `json:"node_UID"`
	Rand           uint32    `json:"rand"`
	Round          int       `json:"round"`
}

type nodeInfo struct {
	UID          string          `json:"UID"`
	Address      string          `json:"address"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Definition   json.RawMessage `json:"definition"`
	LocationName string          `json:"location_name"`
	Name         string          `json:"name"`
	Pubkey       []byte          `json:"pubkey"`
}

// checkLayout asserts the response layout of api-v1.md §1: compact JSON on one line, and in
// every object of the body (or of the array body) the key UID first, then the other keys in
// ascending order.
func checkLayout(t *testing.T, what string, body []byte) {
	t.Helper()
	trimmed := bytes.TrimSuffix(body, []byte("\n"))
	var compact bytes.Buffer
	if err := json.Compact(&compact, trimmed); err != nil {
		t.Errorf("%s: body is not JSON: %v: %s", what, err, body)
		return
	}
	if !bytes.Equal(compact.Bytes(), trimmed) {
		t.Errorf("%s: body is not compact JSON on one line: %q", what, body)
	}
	var items []json.RawMessage
	if bytes.HasPrefix(trimmed, []byte("[")) {
		if err := json.Unmarshal(trimmed, &items); err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
	} else {
		items = []json.RawMessage{trimmed}
	}
	for _, it := range items {
		checkKeyOrder(t, what, it)
	}
}

// checkKeyOrder asserts the key order of one JSON object: UID first when present, then the
// others ascending.
func checkKeyOrder(t *testing.T, what string, obj []byte) {
	t.Helper()
	keys := objectKeys(t, obj)
	if len(keys) == 0 {
		return
	}
	rest := keys
	if i := indexOf(keys, "UID"); i >= 0 {
		if i != 0 {
			t.Errorf("%s: key UID is not first: %v", what, keys)
		}
		rest = keys[1:]
	}
	for i := 1; i < len(rest); i++ {
		if rest[i-1] >= rest[i] {
			t.Errorf("%s: keys not in ascending order after UID: %v", what, keys)
			return
		}
	}
}

// objectKeys returns the top-level keys of a JSON object in their order (nil if obj is not an
// object).
func objectKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Errorf("read key: %v", err)
			return keys
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Errorf("read value: %v", err)
			return keys
		}
	}
	return keys
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// hasNodePrefix reports whether uid starts with the first 12 hex digits of the node UID
// (behaviour.md §7).
func (n *fishNode) hasNodePrefix(uid string) bool {
	return len(uid) == 36 && strings.HasPrefix(uid, n.uid[:13])
}

// checkUID asserts that uid was generated by this node.
func (n *fishNode) checkUID(t *testing.T, what, uid string) {
	t.Helper()
	if !n.hasNodePrefix(uid) {
		t.Errorf("%s UID %q does not start with the node UID prefix %q", what, uid, n.uid[:13])
	}
}

package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func userCreate(name string, hash []byte) *command.UserCreate {
	return &command.UserCreate{
		User: model.User{Name: name, CreatedAt: t0, UpdatedAt: t0, Hash: model.UserHash{Algo: "Argon2id"}},
		Hash: hash,
	}
}

func TestUserCreateReadDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	hash := []byte{0x00, 0x01, 0xfe, 0xff, 'h'}

	_, ev := f.ok(userCreate("alice", hash))
	if want := []Event{{Kind: EventUser, User: "alice"}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	u, err := f.db.User(ctx, "alice")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if u.Name != "alice" || !u.CreatedAt.Equal(t0) || !u.UpdatedAt.Equal(t0) || u.Hash.Algo != "Argon2id" {
		t.Errorf("User = %+v", u)
	}
	if u.Hash.Hash != "" || u.Hash.Salt != "" || u.Password != "" {
		t.Errorf("User exposes secrets: %+v", u.Hash)
	}
	got, stamp, err := f.db.UserCredentials(ctx, "alice")
	if err != nil || !bytes.Equal(got, hash) || stamp == "" {
		t.Errorf("UserCredentials = %x, %q, %v; want %x", got, stamp, err, hash)
	}

	f.refused(userCreate("alice", []byte("other")), ErrExists)
	f.refused(userCreate("", []byte("x")), ErrInvalid)

	_, ev = f.ok(&command.UserDelete{Name: "alice"})
	if len(ev) != 1 || ev[0].Kind != EventUser || ev[0].User != "alice" {
		t.Errorf("delete events = %+v", ev)
	}
	if _, err := f.db.User(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User after delete: err = %v, want ErrNotFound", err)
	}
	if _, _, err := f.db.UserCredentials(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UserCredentials after delete: err = %v, want ErrNotFound", err)
	}
	// Deleting an unknown user is not an error, and the name can be used again.
	f.ok(&command.UserDelete{Name: "alice"})
	f.ok(userCreate("alice", hash))
	if n := count(t, f.db, "user"); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestUserCredentialsStampChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.ok(userCreate("bob", []byte("one")))
	_, s1, _ := f.db.UserCredentials(ctx, "bob")
	f.ok(&command.UserDelete{Name: "bob"})
	again := userCreate("bob", []byte("two"))
	again.User.CreatedAt = t0.Add(time.Nanosecond)
	again.User.UpdatedAt = again.User.CreatedAt
	f.ok(again)
	_, s2, _ := f.db.UserCredentials(ctx, "bob")
	if s1 == s2 {
		t.Errorf("stamp %q did not change when the user was re-created", s1)
	}
}

func fullLabel(uid model.UID, name string, version int64, metadata string) model.Label {
	var md json.RawMessage // nil when metadata is empty: absent
	if metadata != "" {
		md = json.RawMessage(metadata)
	}
	return model.Label{
		UID: uid, CreatedAt: t0, Name: name, Version: version, Metadata: md,
		Definitions: []model.LabelDefinition{
			{
				Driver:  "test",
				Options: json.RawMessage(`{"fail_allocate":3,"nested":{"b":1,"a":[2,1]}}`),
				Resources: model.Resources{
					CPU: 2, RAM: 4, CPUOverbook: true, Multitenancy: true, Lifetime: "30m", Network: "nat",
					NodeFilter: []string{"OS:linux", "Arch:*"},
					Disks:      map[string]model.ResourcesDisk{"ws": {Size: 10, Type: "exfat", Label: "WS", Reuse: true, Clone: "c"}},
				},
			},
			{Driver: "docker/dev", Options: json.RawMessage(`{"image":"x"}`), Resources: model.Resources{CPU: 8, RAM: 16, RAMOverbook: true}},
		},
	}
}

func TestLabelCreateRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Key order and nesting are the client's: the metadata comes back as it went in.
	meta := `{"z":1,"a":{"y":[3,1,2],"b":"x"},"m":null,"unicode":"é"}`
	l := fullLabel(testUID(kLabel, 1), "xcode", 3, meta)

	v, ev := f.ok(&command.LabelCreate{Label: l})
	if got, ok := v.(model.Label); !ok || got.UID != l.UID {
		t.Errorf("value = %#v", v)
	}
	if !slices.Equal(kinds(ev), []EventKind{EventLabel}) {
		t.Errorf("events = %v", kinds(ev))
	}
	got, err := f.db.Label(ctx, l.UID)
	if err != nil {
		t.Fatalf("Label: %v", err)
	}
	if string(got.Metadata) != meta {
		t.Errorf("metadata = %s, want %s", got.Metadata, meta)
	}
	if !got.CreatedAt.Equal(l.CreatedAt) {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, l.CreatedAt)
	}
	got.CreatedAt = l.CreatedAt
	if !reflect.DeepEqual(got, l) {
		t.Errorf("label round trip:\n got %+v\nwant %+v", got, l)
	}
	list, err := f.db.Labels(ctx, nil)
	if err != nil || len(list) != 1 || list[0].UID != l.UID {
		t.Errorf("Labels = %v, %v", list, err)
	}
}

// TestLabelMetadataBytes applies the command without the log encoding: what the FSM is given
// is stored byte for byte, whitespace included.
func TestLabelMetadataBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	meta := "{ \"b\" : 1,\n  \"a\" : [ 1 , 2 ] }"
	l := fullLabel(testUID(kLabel, 1), "spaced", 1, meta)
	res, _, err := f.db.Apply(command.Envelope{Type: command.TypeLabelCreate, Version: 1, Time: t0}, &command.LabelCreate{Label: l})
	if err != nil || res.Err != nil {
		t.Fatalf("apply: %v / %v", err, res.Err)
	}
	got, err := f.db.Label(context.Background(), l.UID)
	if err != nil {
		t.Fatalf("Label: %v", err)
	}
	if string(got.Metadata) != meta {
		t.Errorf("metadata = %q, want %q", got.Metadata, meta)
	}
}

func TestLabelMetadataAbsent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, meta := range []string{"", "null"} {
		l := fullLabel(testUID(kLabel, uint32(i+1)), "m", int64(i+1), meta)
		f.ok(&command.LabelCreate{Label: l})
		got, err := f.db.Label(context.Background(), l.UID)
		if err != nil {
			t.Fatalf("Label: %v", err)
		}
		if string(got.Metadata) != "{}" {
			t.Errorf("metadata %q stored as %s, want {}", meta, got.Metadata)
		}
	}
}

func TestLabelDuplicateNameVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.ok(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 1), "ubuntu", 1, `{}`)})
	f.refused(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 2), "ubuntu", 1, `{}`)}, ErrExists)
	// Same UID again is refused too.
	f.refused(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 1), "other", 1, `{}`)}, ErrExists)
	// A new version or a new name is a new label.
	f.ok(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 3), "ubuntu", 2, `{}`)})
	f.ok(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 4), "debian", 1, `{}`)})
	if n := count(t, f.db, "label"); n != 3 {
		t.Errorf("labels = %d, want 3", n)
	}
}

func TestLabelDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	uid := testUID(kLabel, 1)
	f.ok(&command.LabelCreate{Label: fullLabel(uid, "gone", 1, `{}`)})
	_, ev := f.ok(&command.LabelDelete{UID: uid})
	if !slices.Equal(kinds(ev), []EventKind{EventLabel}) {
		t.Errorf("events = %v", kinds(ev))
	}
	if _, err := f.db.Label(context.Background(), uid); !errors.Is(err, ErrNotFound) {
		t.Errorf("Label after delete: err = %v, want ErrNotFound", err)
	}
	f.ok(&command.LabelDelete{UID: uid}) // unknown: not an error
	// The name and version are free again.
	f.ok(&command.LabelCreate{Label: fullLabel(testUID(kLabel, 2), "gone", 1, `{}`)})
}

func TestNodeRegister(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	uid := testUID(kNode, 1)
	reg := &command.NodeRegister{
		Node: model.Node{UID: uid, Name: "node-1", Address: "10.0.0.1:8001", LocationName: "lab",
			Pubkey: []byte("pub-1"), Definition: json.RawMessage(`{"cpu":4}`)},
		Drivers:  []string{"test"},
		Location: model.Location{Name: "lab", Description: "the lab"},
	}
	v, ev := f.ok(reg)
	r, ok := v.(NodeRegistration)
	if !ok || !r.Created || r.Node.UID != uid || !r.Node.CreatedAt.Equal(t0) {
		t.Fatalf("first register = %#v", v)
	}
	if want := []Event{{Kind: EventNode, Node: uid}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	locs, err := f.db.Locations(ctx, nil)
	if err != nil || len(locs) != 1 || locs[0].Name != "lab" || locs[0].Description != "the lab" {
		t.Errorf("Locations = %+v, %v", locs, err)
	}

	// The same node starts again later, with a new address and definition, same key.
	f.tick(HeartbeatInterval)
	again := *reg
	again.Node.Address = "10.0.0.2:8001"
	again.Node.Definition = json.RawMessage(`{"cpu":8}`)
	again.Node.LocationName = "elsewhere" // the location is kept from the first registration
	v, _ = f.ok(&again)
	r = v.(NodeRegistration)
	if r.Created || r.Node.UID != uid || !r.Node.CreatedAt.Equal(t0) || !r.Node.UpdatedAt.Equal(f.now) || r.Node.LocationName != "lab" {
		t.Errorf("second register = %+v", r)
	}
	n, err := f.db.Node(ctx, uid)
	if err != nil {
		t.Fatalf("Node: %v", err)
	}
	if n.Address != "10.0.0.2:8001" || string(n.Definition) != `{"cpu":8}` || string(n.Pubkey) != "pub-1" ||
		n.LocationName != "lab" || !n.CreatedAt.Equal(t0) || !n.UpdatedAt.Equal(f.now) {
		t.Errorf("Node = %+v", n)
	}

	// A different key under the same name is refused and changes nothing.
	bad := again
	bad.Node.Pubkey = []byte("pub-2")
	f.refused(&bad, ErrPubkeyChange)
	// A new name with a UID already used by another node is refused.
	dup := *reg
	dup.Node.Name = "node-2"
	dup.Location = model.Location{}
	dup.Node.LocationName = ""
	f.refused(&dup, ErrExists)
	if c := count(t, f.db, "node"); c != 1 {
		t.Errorf("nodes = %d, want 1", c)
	}
}

func TestNodeHeartbeat(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	uid := f.node(1, "n1", "test")
	f.tick(HeartbeatInterval)
	_, ev := f.ok(&command.NodeHeartbeat{UID: uid, Drivers: []string{"test", "docker"}, Maintenance: true})
	if want := []Event{{Kind: EventNode, Node: uid}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	n, err := f.db.Node(context.Background(), uid)
	if err != nil || !n.UpdatedAt.Equal(f.now) {
		t.Errorf("Node = %+v, %v; want updated_at %v", n, err, f.now)
	}
	f.refused(&command.NodeHeartbeat{UID: testUID(kNode, 99)}, ErrNotFound)
}

func TestLocationAndMappings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.ok(&command.LocationCreate{Location: model.Location{Name: "eu", CreatedAt: t0, Description: "Europe"}})
	f.refused(&command.LocationCreate{Location: model.Location{Name: "eu", CreatedAt: t0}}, ErrExists)
	f.refused(&command.LocationCreate{Location: model.Location{CreatedAt: t0}}, ErrInvalid)

	m := model.ServiceMapping{UID: testUID(0x8a, 1), CreatedAt: t0, Service: "https://a", Redirect: "https://b", LocationName: "eu"}
	_, ev := f.ok(&command.ServiceMappingCreate{Mapping: m})
	if !slices.Equal(kinds(ev), []EventKind{EventMapping}) {
		t.Errorf("events = %v", kinds(ev))
	}
	f.refused(&command.ServiceMappingCreate{Mapping: model.ServiceMapping{UID: testUID(0x8a, 2), Service: "https://a", Redirect: "https://c", LocationName: "eu"}}, ErrExists)
	f.refused(&command.ServiceMappingCreate{Mapping: model.ServiceMapping{UID: testUID(0x8a, 3), Service: "https://a"}}, ErrInvalid)
	f.refused(&command.ServiceMappingCreate{Mapping: model.ServiceMapping{UID: testUID(0x8a, 4), Service: "x", Redirect: "y",
		ApplicationUID: testUID(kApp, 404)}}, ErrNotFound)
	got, err := f.db.MappingsForService(ctx, "https://a")
	if err != nil || len(got) != 1 || got[0].Redirect != "https://b" || got[0].ApplicationUID != model.NilUID {
		t.Errorf("MappingsForService = %+v, %v", got, err)
	}
	f.ok(&command.ServiceMappingDelete{UID: m.UID})
	if _, err := f.db.ServiceMapping(ctx, m.UID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ServiceMapping after delete: err = %v", err)
	}
}

// TestEventsOfOtherCommands covers the event of each command not checked elsewhere.
func TestEventsOfOtherCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	a := f.allocated(f.label("l", 1, "test"), node)
	r, _ := f.db.ApplicationResource(ctx, a)
	b := f.app(f.label("m", 1, "test"))
	f.vote(b, node, 0, 0, 1)
	task := testUID(kTask, 1)
	f.ok(&command.TaskCreate{Task: model.ApplicationTask{UID: task, ApplicationUID: a, When: model.StatusAllocated}})
	mapping := testUID(0x8a, 1)
	f.ok(&command.ServiceMappingCreate{Mapping: model.ServiceMapping{UID: mapping, Service: "s", Redirect: "r"}})

	tests := []struct {
		c    command.Command
		want []Event
	}{
		{&command.LocationCreate{Location: model.Location{Name: "eu"}}, []Event{{Kind: EventMapping}}},
		{&command.ServiceMappingDelete{UID: mapping}, []Event{{Kind: EventMapping}}},
		{&command.ResourceSetIP{UID: r.UID, IP: "10.0.0.9"}, []Event{{Kind: EventResource}}},
		{&command.TaskResult{UID: task, Result: json.RawMessage(`{"ok":1}`)}, []Event{{Kind: EventTask, Task: task}}},
		{&command.Reelect{ApplicationUID: b, State: model.ApplicationState{UID: f.next(kState)}}, []Event{{Kind: EventApplication, App: b, Status: model.StatusNew}}},
		{&command.UserDelete{Name: "nobody"}, []Event{{Kind: EventUser, User: "nobody"}}},
	}
	for _, tt := range tests {
		if _, ev := f.ok(tt.c); !reflect.DeepEqual(ev, tt.want) {
			t.Errorf("%T: events = %+v, want %+v", tt.c, ev, tt.want)
		}
	}
}

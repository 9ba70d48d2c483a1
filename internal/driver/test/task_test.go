package test

import (
	"context"
	"errors"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestTaskLookup(t *testing.T) {
	d := newDriver(t, ``)
	tests := []struct {
		name, options string
		ok            bool
	}{
		{"snapshot", ``, true},
		{"snapshot", `null`, true},
		{"snapshot", `{}`, true},
		{"snapshot", `{"full":true}`, true},
		{"snapshot", `{"full":false,"unknown":1}`, true},
		{"snapshot", `{"full":"yes"}`, false},
		{"snapshot", `[]`, false},
		{"snapshot", `"full"`, false},
		{"snapshot", `{`, false},
		{"Snapshot", `{}`, false},
		{"image", `{}`, false},
		{"", ``, false},
	}
	for _, tt := range tests {
		task, ok := d.Task(tt.name, []byte(tt.options))
		if ok != tt.ok || (ok && task == nil) {
			t.Errorf("Task(%q, %q) = %v, %v; want ok %v", tt.name, tt.options, task, ok, tt.ok)
		}
	}
	if task, _ := d.Task("snapshot", []byte(`{"full":true}`)); !task.(*snapshotTask).Full {
		t.Error("full option not decoded")
	}
}

func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, ``)
	res := mustAllocate(t, d, ``)
	task, ok := d.Task(TaskSnapshot, []byte(`{"full":true}`))
	if !ok {
		t.Fatal("no snapshot task")
	}
	for _, when := range []model.Status{model.StatusAllocated, model.StatusDeallocate} {
		out, err := task.Run(ctx, model.ApplicationTask{Task: TaskSnapshot, When: when}, res)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if want := `{"snapshots":["test-snapshot"],"when":"` + string(when) + `"}`; string(out) != want {
			t.Errorf("result %s, want %s", out, want)
		}
	}

	// A missing marker: {} and an error.
	if err := d.Deallocate(ctx, res); err != nil {
		t.Fatal(err)
	}
	out, err := task.Run(ctx, model.ApplicationTask{When: model.StatusAllocated}, res)
	if string(out) != `{}` {
		t.Errorf("result for a missing resource %s, want {}", out)
	}
	wantError(t, "Run", err, "TEST: Unable to snapshot unavailable resource '"+res.Identifier+"'")
	if !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("error %v does not wrap driver.ErrNotFound", err)
	}
}

func TestSnapshotKnob(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		cfg  string
		done []bool // whether consecutive runs complete
	}{
		{`{"fail_snapshot":0}`, []bool{true, true, true}},
		{`{"fail_snapshot":255}`, []bool{false, false, false}},
		{`{"fail_snapshot":127}`, []bool{false, true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			d := newDriver(t, tt.cfg)
			res := mustAllocate(t, d, ``)
			task, _ := d.Task(TaskSnapshot, nil)
			for i, wantDone := range tt.done {
				out, err := task.Run(ctx, model.ApplicationTask{When: model.StatusAllocated}, res)
				if err != nil {
					t.Fatalf("run %d: %v (a knob failure is not an error)", i, err)
				}
				if done := string(out) != `{}`; done != wantDone {
					t.Errorf("run %d: result %s, want done %v", i, out, wantDone)
				}
			}
		})
	}
}

func TestSnapshotResultsAreIndependent(t *testing.T) {
	d := newDriver(t, `{"fail_snapshot":255}`)
	task, _ := d.Task(TaskSnapshot, nil)
	first, _ := task.Run(context.Background(), model.ApplicationTask{}, model.Resource{Identifier: "test-aaaaaa"})
	first[0] = 'x'
	second, _ := task.Run(context.Background(), model.ApplicationTask{}, model.Resource{Identifier: "test-aaaaaa"})
	if string(second) != `{}` {
		t.Errorf("a caller altered another's result: %s", second)
	}
}

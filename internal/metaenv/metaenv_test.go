package metaenv

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func TestCleanKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain_Key9", "plain_Key9"},
		{"a.b.c", "a_b_c"},
		{"my-key", "mykey"},
		{"bad key!", "badkey"},
		{"123abc", "abc"},
		{"123", ""},
		{"9p.a", "p_a"},
		{"p.1a", "p_1a"},
		{"_1", "_1"},
		{"a\u0007b", "ab"},
		{"a\x00b", "ab"},
		{"ключ_k", "_k"},
		{"ü", ""},
		{"!!", ""},
		{"", ""},
		{".", "_"},
		{"my.pre-fix.a", "my_prefix_a"},
	} {
		if got := CleanKey(tc.in); got != tc.want {
			t.Errorf("CleanKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"string", "it's \"x\"\n", "it's \"x\"\n"},
		{"empty string", "", ""},
		{"int", 1.0, "1"},
		{"float", 1.5, "1.5"},
		{"exponent", 1e6, "1e+06"},
		{"small int", 123456.0, "123456"},
		{"negative", -2.0, "-2"},
		{"json.Number", json.Number("1.50"), "1.5"},
		{"json.Number out of range", json.Number("1e400"), "1e400"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"array", []any{"a", "b"}, "[a b]"},
		{"array of numbers", []any{1.0, 2.5}, "[1 2.5]"},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("%s: Text(%#v) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	for _, f := range []float64{0, 1, 1.5, 1e6, 123456789, 0.0001, 1e-7, 3.14159, 1e21} {
		if got, want := Text(f), fmt.Sprint(f); got != want {
			t.Errorf("Text(%v) = %q, want %q like Go prints it", f, got, want)
		}
	}
}

func TestFlatten(t *testing.T) {
	for _, tc := range []struct {
		name, md, prefix string
		want             []Var
	}{
		{"empty", `{}`, "pre", nil},
		{"spec example", `{"X":"y","B":{"c":1},"A":"label"}`, "pre",
			[]Var{{"pre_A", "label"}, {"pre_B_c", "1"}, {"pre_X", "y"}}},
		{"no prefix", `{"X":"y","B":{"c":1}}`, "", []Var{{"B_c", "1"}, {"X", "y"}}},
		{"deep", `{"a":{"b":{"c":"d"}}}`, "", []Var{{"a_b_c", "d"}}},
		{"empty object is no leaf", `{"a":{},"b":"c"}`, "", []Var{{"b", "c"}}},
		{"scalars", `{"n":null,"t":true,"l":["x",2]}`, "",
			[]Var{{"l", "[x 2]"}, {"n", ""}, {"t", "true"}}},
		{"empty keys skipped", `{"":"a","123":"b","!!":"c","ok":"d"}`, "", []Var{{"ok", "d"}}},
		{"dot kept as underscore", `{"!!":{"7":"c"}}`, "", []Var{{"_7", "c"}}},
		{"prefix makes empty key count", `{"":"a"}`, "p", []Var{{"p_", "a"}}},
		{"leading digits of the prefix", `{"a":"v"}`, "9p", []Var{{"p_a", "v"}}},
		{"digits after the prefix kept", `{"1a":"v"}`, "p", []Var{{"p_1a", "v"}}},
		{"prefix cleaned", `{"a":"v"}`, "my.pre-fix", []Var{{"my_prefix_a", "v"}}},
		// Raw keys sort "a" < "a.b" < "a_b": the nested a.b comes first, then the dotted key.
		{"collisions kept in path order", `{"a_b":"3","a.b":"2","a":{"b":"1"}}`, "",
			[]Var{{"a_b", "1"}, {"a_b", "2"}, {"a_b", "3"}}},
		{"order is by component", `{"a":{"z":"1"},"a-b":"2"}`, "", []Var{{"a_z", "1"}, {"ab", "2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var md map[string]any
			if err := json.Unmarshal([]byte(tc.md), &md); err != nil {
				t.Fatal(err)
			}
			if got := Flatten(md, tc.prefix); !slices.Equal(got, tc.want) {
				t.Errorf("Flatten(%s, %q) = %q, want %q", tc.md, tc.prefix, got, tc.want)
			}
		})
	}
	if got := Flatten(nil, "p"); got != nil {
		t.Errorf("Flatten(nil) = %q, want nil", got)
	}
}

package yamljson

import (
	"fmt"
	"strings"
	"testing"
)

func TestToJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"order kept", "z: 1\na: 2\nm: 3\n", `{"z":1,"a":2,"m":3}`},
		{"keys are text", "on: 1\nyes: 2\n\"n\": 3\nn: 4\noff: 5\n1: 6\n", `{"on":1,"yes":2,"n":4,"off":5,"1":6}`},
		{"yaml 1.2 scalars", "a: yes\nb: on\nc: 0777\nd: 0o17\ne: 0x1F\nf: true\ng: ~\nh: 1.5\ni: 2001-12-14\nj: '12'\n",
			`{"a":"yes","b":"on","c":777,"d":15,"e":31,"f":true,"g":null,"h":1.5,"i":"2001-12-14","j":"12"}`},
		{"nested", "name: l\ndefinitions:\n  - driver: test\n    resources: {cpu: 1, ram: 2, node_filter: [\"OS:linux*\"]}\n    options: {x: <b>}\n",
			`{"name":"l","definitions":[{"driver":"test","resources":{"cpu":1,"ram":2,"node_filter":["OS:linux*"]},"options":{"x":"<b>"}}]}`},
		{"empty", "", `null`},
		{"aliases and merge", "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n  z: *b\n", `{"base":{"x":1,"y":2},"use":{"x":1,"y":3,"z":{"x":1,"y":2}}}`},
		{"huge int is a float", "a: 123456789012345678901234567890\n", `{"a":1.2345678901234568e+29}`},
		{"leading zeros", "a: -007\n", `{"a":-7}`},
		{"infinity kept as text", "a: .inf\n", `{"a":".inf"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ToJSON([]byte(tc.in))
			if err != nil || string(got) != tc.want {
				t.Errorf("ToJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestToJSONErrors(t *testing.T) {
	for _, in := range []string{
		"a: [1, 2\n",         // syntax
		"? [1, 2]\n: x\n",    // non-scalar key
		"{\"a\": 1}\nb: 2\n", // text after a flow mapping
		"a: 1\n---\nb: 2\n",  // two documents
	} {
		if got, err := ToJSON([]byte(in)); err == nil {
			t.Errorf("ToJSON(%q) = %s, want an error", in, got)
		}
	}
}

// TestBillionLaughs: aliases cannot expand a small body into a huge one.
func TestBillionLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a" + string(rune('0'+i%10)) + string(rune('a'+i)) + ": &a" + string(rune('a'+i)) + " [")
		prev := "a0"
		if i > 1 {
			prev = "a" + string(rune('a'+i-1))
		}
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
	}
	if _, err := ToJSON([]byte(b.String())); err == nil {
		t.Error("a body expanding to 10^12 items converted without error")
	}
}

// TestMergeBomb: merge keys over merge keys are worked out once per mapping; before, each level
// multiplied the work by ten and a 1 KB body could keep a core busy for hours.
func TestMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {k: 1}\n")
	for i := 1; i <= 14; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	got, err := ToJSON([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(got), `"a14":{"k":1}}`) {
		t.Errorf("ToJSON = %s", got)
	}
}

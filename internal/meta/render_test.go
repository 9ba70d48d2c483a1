package meta

import (
	"errors"
	"fmt"
	"testing"
)

func TestRenderSpecExample(t *testing.T) {
	const metadata = `{"X":"y","B":{"c":1},"A":"label"}`
	tests := []struct {
		format, prefix string
		wantBody       string
		wantType       string
	}{
		{"", "pre", `{"A":"label","B":{"c":1},"X":"y"}`, ContentTypeJSON},
		{"json", "pre", `{"A":"label","B":{"c":1},"X":"y"}`, ContentTypeJSON},
		{"env", "pre", "pre_A=label\npre_B_c=1\npre_X=y\n", ContentTypeText},
		{"env", "", "A=label\nB_c=1\nX=y\n", ContentTypeText},
		{"export", "pre", "export pre_A=label\nexport pre_B_c=1\nexport pre_X=y\n", ContentTypeText},
		{"ps1", "pre", "$pre_A='label'\n$pre_B_c='1'\n$pre_X='y'\n", ContentTypeText},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.prefix, func(t *testing.T) {
			body, ct, err := Render([]byte(metadata), tt.format, tt.prefix)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if ct != tt.wantType {
				t.Errorf("content type = %q, want %q", ct, tt.wantType)
			}
		})
	}
}

func TestRenderJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `{}`},
		{"null", `null`, `{}`},
		{"empty object", ` {} `, `{}`},
		{"nested sorted", `{"b":{"z":1,"a":[{"y":2,"x":1}]},"a":true}`, `{"a":true,"b":{"a":[{"x":1,"y":2}],"z":1}}`},
		{"numbers kept", `{"n":1.0,"big":12345678901234567890,"e":1e6}`, `{"big":12345678901234567890,"e":1e6,"n":1.0}`},
		{"no html escape", `{"url":"http://h/?a=1&b=<2>"}`, `{"url":"http://h/?a=1&b=<2>"}`},
		{"spaces removed", "{ \"a\" :\n [ 1 , 2 ] }", `{"a":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := Render([]byte(tt.in), "json", "ignored")
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if string(body) != tt.want {
				t.Errorf("body = %s, want %s", body, tt.want)
			}
		})
	}
}

func TestRenderEnvValues(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"int", `{"a":1}`, "a=1\n"},
		{"float", `{"a":1.5}`, "a=1.5\n"},
		{"exponent", `{"a":1000000}`, "a=1e+06\n"},
		{"small int", `{"a":123456}`, "a=123456\n"},
		{"negative", `{"a":-2}`, "a=-2\n"},
		{"bool", `{"a":true,"b":false}`, "a=true\nb=false\n"},
		{"null", `{"a":null}`, "a=''\n"},
		{"empty string", `{"a":""}`, "a=''\n"},
		{"array", `{"a":["x","y"]}`, "a='[x y]'\n"},
		{"array of numbers", `{"a":[1,2.5]}`, "a='[1 2.5]'\n"},
		{"empty object skipped", `{"a":{},"b":"c"}`, "b=c\n"},
		{"safe chars", `{"a":"A-z_0@%+=:,./9"}`, "a=A-z_0@%+=:,./9\n"},
		{"space", `{"a":"hello world"}`, "a='hello world'\n"},
		{"single quote", `{"a":"it's"}`, "a='it'\"'\"'s'\n"},
		{"dollar", `{"a":"$HOME"}`, "a='$HOME'\n"},
		{"newline", `{"a":"l1\nl2"}`, "a='l1\nl2'\n"},
		{"deep", `{"a":{"b":{"c":"d"}}}`, "a_b_c=d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := Render([]byte(tt.in), "env", "")
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if string(body) != tt.want {
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
}

func TestRenderNumbersLikeGoFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 1.5, 1e6, 123456789, 0.0001, 1e-7, 3.14159, 1e21} {
		want := fmt.Sprintf("a=%v\n", f)
		body, _, err := Render(fmt.Appendf(nil, `{"a":%v}`, f), "env", "")
		if err != nil {
			t.Fatalf("Render(%v): %v", f, err)
		}
		if string(body) != want {
			t.Errorf("Render(%v) = %q, want %q", f, body, want)
		}
	}
}

func TestRenderKeyCleanup(t *testing.T) {
	tests := []struct {
		name, in, prefix, want string
	}{
		{"dot in key", `{"a.b":"v"}`, "", "a_b=v\n"},
		{"dash dropped", `{"my-key":"v"}`, "", "mykey=v\n"},
		{"leading digits", `{"123abc":"v"}`, "", "abc=v\n"},
		{"digits only skipped", `{"123":"v","ok":"w"}`, "", "ok=w\n"},
		{"digits after prefix kept", `{"1a":"v"}`, "p", "p_1a=v\n"},
		{"digit prefix", `{"a":"v"}`, "9p", "p_a=v\n"},
		{"non printable", "{\"a\\u0007b\":\"v\"}", "", "ab=v\n"},
		{"non ascii", `{"ключ_k":"v"}`, "", "_k=v\n"},
		{"empty after cleanup", `{"!!":"v"}`, "", ""},
		{"leading underscore kept", `{"_1":"v"}`, "", "_1=v\n"},
		{"prefix cleaned", `{"a":"v"}`, "my.pre-fix", "my_prefix_a=v\n"},
		{"collision keeps both", `{"a.b":"1","a":{"b":"2"}}`, "", "a_b=2\na_b=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := Render([]byte(tt.in), "env", tt.prefix)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if string(body) != tt.want {
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
}

func TestRenderPS1Quoting(t *testing.T) {
	body, _, err := Render([]byte(`{"a":"it's 'x'","b":"","c":"$x y"}`), "ps1", "")
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := "$a='it''s ''x'''\n$b=''\n$c='$x y'\n"
	if string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, in, format string
		want             error
		wantMsg          string
	}{
		{"unknown format", `{}`, "yaml", ErrUnsupportedFormat, "Unsupported `format`: yaml"},
		{"case matters", `{}`, "JSON", ErrUnsupportedFormat, "Unsupported `format`: JSON"},
		{"array json", `[1]`, "json", ErrInvalidMetadata, ""},
		{"array env", `[1]`, "env", ErrInvalidMetadata, ""},
		{"string", `"x"`, "env", ErrInvalidMetadata, ""},
		{"broken", `{"a":`, "json", ErrInvalidMetadata, ""},
		{"trailing", `{} {}`, "json", ErrInvalidMetadata, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct, err := Render([]byte(tt.in), tt.format, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message = %q, want %q", err.Error(), tt.wantMsg)
			}
			if body != nil || ct != "" {
				t.Errorf("got body %q, type %q with an error", body, ct)
			}
		})
	}
}

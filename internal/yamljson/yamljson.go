// Package yamljson turns a YAML request body into the JSON the API decodes, keeping what the
// client wrote: mapping keys stay in their order and stay the text they were written as (a key
// "on" or "n" is not a boolean), and scalars follow YAML 1.2 (only true/false are booleans,
// 0777 is a decimal number, dates stay strings).
package yamljson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxOutput bounds the JSON one body may expand to through aliases (a "billion laughs" body).
const maxOutput = 4 << 20

// ToJSON converts the YAML document b to JSON. An empty document is null; a second document
// (or text after the first that does not belong to it) is an error.
func ToJSON(b []byte) ([]byte, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("yaml: line %d: a second document: one is expected", next.Line)
		}
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return []byte("null"), nil
	}
	c := converter{entries: map[*yaml.Node][]pair{}}
	if err := c.write(doc.Content[0], 0); err != nil {
		return nil, err
	}
	return c.out.Bytes(), nil
}

// converter holds one conversion: the output, the entries of every mapping already worked out
// (a merge source is read once however often it is merged), and the work done so far.
type converter struct {
	out     bytes.Buffer
	entries map[*yaml.Node][]pair
	work    int // merged pairs, bounded like the output: a body cannot cost more than a few MB
}

var (
	errTooLarge = errors.New("yaml: document expands too much (aliases)")
	errTooDeep  = errors.New("yaml: document nested too deeply")
)

// write appends the JSON of n to the output.
func (c *converter) write(n *yaml.Node, depth int) error {
	out := &c.out
	if out.Len() > maxOutput {
		return errTooLarge
	}
	if depth > 1000 {
		return errTooDeep
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			out.WriteString("null")
			return nil
		}
		return c.write(n.Content[0], depth+1)
	case yaml.AliasNode:
		return c.write(n.Alias, depth+1)
	case yaml.SequenceNode:
		out.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := c.write(e, depth+1); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		return nil
	case yaml.MappingNode:
		pairs, err := c.mapping(n, 0)
		if err != nil {
			return err
		}
		out.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, p.key)
			out.WriteByte(':')
			if err := c.write(p.value, depth+1); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		return nil
	case yaml.ScalarNode:
		return writeScalar(out, n)
	}
	return fmt.Errorf("yaml: line %d: unsupported node", n.Line)
}

type pair struct {
	key   string
	value *yaml.Node
}

// mapping lists the keys of mapping n in order; a key written twice keeps its first place and
// its last value, as JSON decoders do. A merge key (<<: *alias, or a list of aliases) brings in
// the keys of the merged mappings that n does not set itself, where it stands.
func (c *converter) mapping(n *yaml.Node, depth int) ([]pair, error) {
	if done, ok := c.entries[n]; ok {
		return done, nil
	}
	if depth > 100 {
		return nil, errTooDeep
	}
	explicit := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("yaml: line %d: a mapping key must be a scalar", k.Line)
		}
		if k.ShortTag() == "!!merge" {
			continue
		}
		explicit[k.Value] = true
	}
	var out []pair
	at := map[string]int{} // explicit key → its place in out
	merged := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.ShortTag() != "!!merge" {
			if j, seen := at[k.Value]; seen {
				out[j].value = v // a repeated key: the last value wins, as in JSON
				continue
			}
			at[k.Value] = len(out)
			out = append(out, pair{k.Value, v})
			continue
		}
		sources := []*yaml.Node{deref(v)}
		if sources[0].Kind == yaml.SequenceNode {
			sources = sources[0].Content
		}
		for _, src := range sources {
			src = deref(src)
			if src.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("yaml: line %d: a merge needs mappings", v.Line)
			}
			inner, err := c.mapping(src, depth+1)
			if err != nil {
				return nil, err
			}
			if c.work += len(inner); c.work > maxOutput/8 {
				return nil, errTooLarge
			}
			for _, p := range inner {
				if !explicit[p.key] && !merged[p.key] {
					merged[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	c.entries[n] = out
	return out, nil
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// writeScalar appends a scalar by its resolved YAML 1.2 tag.
func writeScalar(out *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		out.WriteString("null")
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return err
		}
		out.WriteString(strconv.FormatBool(v))
	case "!!int":
		if d := strings.TrimLeft(n.Value, "+-"); len(d) > 1 && d[0] == '0' && strings.Trim(d, "0123456789") == "" {
			// YAML 1.2: a leading zero does not make an octal number (0o17 does).
			v, err := strconv.ParseInt(strings.TrimPrefix(n.Value, "+"), 10, 64)
			if err != nil {
				return err
			}
			out.WriteString(strconv.FormatInt(v, 10))
			return nil
		}
		var v int64
		if err := n.Decode(&v); err == nil {
			out.WriteString(strconv.FormatInt(v, 10))
			return nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			out.WriteString(strconv.FormatUint(u, 10))
			return nil
		}
		writeString(out, n.Value) // beyond 64 bits: kept as written
	case "!!float":
		var v float64
		if err := n.Decode(&v); err != nil {
			return err
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			writeString(out, n.Value) // JSON has no such numbers
			return nil
		}
		b, _ := json.Marshal(v)
		out.Write(b)
	default: // !!str, !!timestamp, !!binary and custom tags: the text as written
		writeString(out, n.Value)
	}
	return nil
}

func writeString(out *bytes.Buffer, s string) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out.WriteString(strings.TrimSuffix(b.String(), "\n"))
}

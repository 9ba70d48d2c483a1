package executor

import (
	"encoding/json"
	"fmt"
	"maps"
)

// mergeMetadata overlays the label's metadata on the application's: label keys win.
func mergeMetadata(app, label json.RawMessage) (map[string]any, error) {
	var a, l map[string]any
	if err := decodeObject(app, &a); err != nil {
		//lint:ignore ST1005 the exact state description of behaviour.md §2.1
		return nil, fmt.Errorf("Unable to parse the app metadata:%v", err)
	}
	if err := decodeObject(label, &l); err != nil {
		//lint:ignore ST1005 the exact state description of behaviour.md §2.1
		return nil, fmt.Errorf("Unable to parse the label metadata:%v", err)
	}
	out := make(map[string]any, len(a)+len(l))
	maps.Copy(out, a)
	maps.Copy(out, l)
	return out, nil
}

func decodeObject(raw json.RawMessage, v *map[string]any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

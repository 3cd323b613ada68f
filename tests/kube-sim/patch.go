package main

import (
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
)

// Lists with a patch merge key in the served types (strategic merge patch).
var mergeKeys = map[string]string{
	"metadata.ownerReferences": "uid",
	"webhooks":                 "name",
}

// Primitive lists with patchStrategy merge.
var mergePrimitive = map[string]bool{"metadata.finalizers": true}

func (s *sim) handlePatch(rc *reqCtx, res *resDef, ns, name string) {
	body, err := io.ReadAll(io.LimitReader(rc.r.Body, 3*1024*1024+1))
	if err != nil {
		rc.fail(errBadRequest(err.Error()))
		return
	}
	ct, _, _ := mime.ParseMediaType(rc.r.Header.Get("Content-Type"))
	if res.storage != nil && ct == "application/strategic-merge-patch+json" {
		// Custom resources have no patch strategies: apiextensions-apiserver
		// accepts JSON patch, merge patch and apply only.
		rc.fail(newStatus(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml", nil))
		return
	}
	switch ct {
	case "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json":
	case "application/apply-patch+yaml", "application/apply-patch+cbor":
		rc.fail(newStatus(415, "UnsupportedMediaType", "kube-sim does not implement server-side apply", nil))
		return
	default:
		rc.fail(newStatus(415, "UnsupportedMediaType", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"), nil))
		return
	}
	patch, err := parseJSON(body)
	if err != nil {
		rc.fail(errBadRequest(fmt.Sprintf("error decoding patch: %v", err)))
		return
	}
	s.update(rc, res, ns, name, "patch", patchResourceVersion(patch), func(cur obj) (obj, *apiStatus) {
		var out interface{}
		switch ct {
		case "application/json-patch+json":
			ops, ok := patch.([]interface{})
			if !ok {
				return nil, errBadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
			}
			var err error
			if out, err = applyJSONPatch(deepCopy(cur), ops); err != nil {
				return nil, newStatus(422, "Invalid", err.Error(), nil)
			}
		case "application/merge-patch+json":
			out = mergePatch(deepCopy(cur), patch)
		default:
			pm, ok := patch.(map[string]interface{})
			if !ok {
				return nil, errBadRequest("unable to unmarshal patch into a map")
			}
			out = strategicMerge(deepCopy(cur).(map[string]interface{}), pm, "")
		}
		o, ok := out.(map[string]interface{})
		if !ok || o == nil {
			return nil, errBadRequest("the patch did not produce an object")
		}
		o, st := s.checkObject(rc, res, o)
		if st != nil {
			return nil, st
		}
		if metaString(o, "name") != name {
			return nil, errBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", metaString(o, "name"), name))
		}
		if res.namespaced {
			meta(o)["namespace"] = ns
		}
		return o, nil
	})
}

// mergePatch is RFC 7386 JSON merge patch.
func mergePatch(target, patch interface{}) interface{} {
	pm, ok := patch.(map[string]interface{})
	if !ok {
		return deepCopy(patch)
	}
	tm, ok := target.(map[string]interface{})
	if !ok {
		tm = map[string]interface{}{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// strategicMerge applies a strategic merge patch as kubectl apply sends it:
// merge-patch semantics, plus the directives ($patch, $retainKeys,
// $setElementOrder, $deleteFromPrimitiveList) and merge keys of the served types.
func strategicMerge(target, patch map[string]interface{}, path string) map[string]interface{} {
	if d, ok := patch["$patch"].(string); ok {
		switch d {
		case "replace":
			out := deepCopy(patch).(map[string]interface{})
			delete(out, "$patch")
			return out
		case "delete":
			return nil
		}
	}
	if target == nil {
		target = map[string]interface{}{}
	}
	orders := map[string][]interface{}{}
	for k, v := range patch {
		switch {
		case k == "$patch":
		case k == "$retainKeys":
		case strings.HasPrefix(k, "$setElementOrder/"):
			l, _ := v.([]interface{})
			orders[strings.TrimPrefix(k, "$setElementOrder/")] = l
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			f := strings.TrimPrefix(k, "$deleteFromPrimitiveList/")
			del, _ := v.([]interface{})
			if l, ok := target[f].([]interface{}); ok {
				var keep []interface{}
				for _, x := range l {
					if !containsValue(del, x) {
						keep = append(keep, x)
					}
				}
				target[f] = keep
			}
		case v == nil:
			delete(target, k)
		default:
			p := joinPath(path, k)
			switch pv := v.(type) {
			case map[string]interface{}:
				tv, _ := target[k].(map[string]interface{})
				r := strategicMerge(tv, pv, p)
				if r == nil {
					delete(target, k)
				} else {
					target[k] = r
				}
			case []interface{}:
				if key, ok := mergeKeys[p]; ok {
					tl, _ := target[k].([]interface{})
					target[k] = mergeList(tl, pv, key, p)
				} else if mergePrimitive[p] {
					tl, _ := target[k].([]interface{})
					out := append([]interface{}{}, tl...)
					for _, x := range pv {
						out = appendUnique(out, x)
					}
					target[k] = out
				} else {
					target[k] = deepCopy(pv)
				}
			default:
				target[k] = v
			}
		}
	}
	if rk, ok := patch["$retainKeys"].([]interface{}); ok {
		keep := map[string]bool{}
		for _, x := range rk {
			if s, ok := x.(string); ok {
				keep[s] = true
			}
		}
		for k := range target {
			if !keep[k] {
				delete(target, k)
			}
		}
	}
	for f, order := range orders {
		l, ok := target[f].([]interface{})
		if !ok {
			continue
		}
		key := mergeKeys[joinPath(path, f)]
		target[f] = reorder(l, order, key)
	}
	return target
}

func elemKey(x interface{}, key string) string {
	if key == "" {
		return fmt.Sprint(x)
	}
	if m, ok := x.(map[string]interface{}); ok {
		return fmt.Sprint(m[key])
	}
	return fmt.Sprint(x)
}

func mergeList(target, patch []interface{}, key, path string) []interface{} {
	out := append([]interface{}{}, target...)
	for _, pe := range patch {
		pm, ok := pe.(map[string]interface{})
		if !ok {
			out = append(out, pe)
			continue
		}
		k := elemKey(pm, key)
		idx := -1
		for i, te := range out {
			if elemKey(te, key) == k {
				idx = i
				break
			}
		}
		if d, _ := pm["$patch"].(string); d == "delete" {
			if idx >= 0 {
				out = append(out[:idx], out[idx+1:]...)
			}
			continue
		}
		if idx >= 0 {
			tm, _ := out[idx].(map[string]interface{})
			out[idx] = strategicMerge(tm, pm, path)
		} else {
			out = append(out, strategicMerge(nil, pm, path))
		}
	}
	return out
}

func reorder(l, order []interface{}, key string) []interface{} {
	var out []interface{}
	used := make([]bool, len(l))
	for _, o := range order {
		k := elemKey(o, key)
		for i, x := range l {
			if !used[i] && elemKey(x, key) == k {
				out = append(out, x)
				used[i] = true
				break
			}
		}
	}
	for i, x := range l {
		if !used[i] {
			out = append(out, x)
		}
	}
	return out
}

// applyJSONPatch is RFC 6902.
func applyJSONPatch(doc interface{}, ops []interface{}) (interface{}, error) {
	for _, op := range ops {
		m, ok := op.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("invalid JSON patch operation")
		}
		kind, _ := m["op"].(string)
		path, _ := m["path"].(string)
		var err error
		switch kind {
		case "add":
			doc, err = jpSet(doc, path, deepCopy(m["value"]), true)
		case "replace":
			if _, err = jpGet(doc, path); err == nil {
				doc, err = jpSet(doc, path, deepCopy(m["value"]), false)
			}
		case "remove":
			doc, err = jpRemove(doc, path)
		case "test":
			var v interface{}
			if v, err = jpGet(doc, path); err == nil && fmt.Sprint(v) != fmt.Sprint(m["value"]) {
				err = fmt.Errorf("testing value %s failed: test failed", path)
			}
		case "copy", "move":
			from, _ := m["from"].(string)
			var v interface{}
			if v, err = jpGet(doc, from); err == nil {
				if kind == "move" {
					doc, err = jpRemove(doc, from)
				}
				if err == nil {
					doc, err = jpSet(doc, path, deepCopy(v), true)
				}
			}
		default:
			err = fmt.Errorf("Unexpected kind: %s", kind)
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func jpTokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("JSON pointer must be empty or start with a \"/\": %s", path)
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func jpGet(doc interface{}, path string) (interface{}, error) {
	toks, err := jpTokens(path)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]interface{}:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("unable to find %s: missing value", path)
			}
			cur = v
		case []interface{}:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("unable to access invalid index: %s", t)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("unable to find %s: missing value", path)
		}
	}
	return cur, nil
}

// jpParent resolves all but the last token; returns the container and the last token.
func jpSet(doc interface{}, path string, v interface{}, insert bool) (interface{}, error) {
	toks, err := jpTokens(path)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return v, nil
	}
	parentPath := jpJoin(toks[:len(toks)-1])
	parent, err := jpGet(doc, parentPath)
	if err != nil {
		return nil, fmt.Errorf("add operation does not apply: doc is missing path: %s: missing value", path)
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]interface{}:
		c[last] = v
		return doc, nil
	case []interface{}:
		var nl []interface{}
		if last == "-" {
			nl = append(c, v)
		} else {
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i > len(c) || (!insert && i == len(c)) {
				return nil, fmt.Errorf("unable to access invalid index: %s", last)
			}
			if insert {
				nl = append(append(append([]interface{}{}, c[:i]...), v), c[i:]...)
			} else {
				c[i] = v
				return doc, nil
			}
		}
		return jpSet(doc, parentPath, nl, false)
	}
	return nil, fmt.Errorf("add operation does not apply: doc is missing path: %s: missing value", path)
}

// jpJoin is the JSON pointer of the reference tokens TOKS (RFC 6901
// escaping: "~" as "~0", "/" as "~1"); jpTokens splits one.
func jpJoin(toks []string) string {
	p := ""
	for _, t := range toks {
		p += "/" + strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return p
}

func jpRemove(doc interface{}, path string) (interface{}, error) {
	toks, err := jpTokens(path)
	if err != nil || len(toks) == 0 {
		return nil, fmt.Errorf("unable to remove %s", path)
	}
	parentPath := jpJoin(toks[:len(toks)-1])
	parent, err := jpGet(doc, parentPath)
	if err != nil {
		return nil, err
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]interface{}:
		if _, ok := c[last]; !ok {
			return nil, fmt.Errorf("unable to remove nonexistent key: %s: missing value", last)
		}
		delete(c, last)
		return doc, nil
	case []interface{}:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("unable to access invalid index: %s", last)
		}
		nl := append(append([]interface{}{}, c[:i]...), c[i+1:]...)
		if parentPath == "" {
			return nl, nil
		}
		return jpSet(doc, parentPath, nl, false)
	}
	return nil, fmt.Errorf("unable to remove %s", path)
}

// patchResourceVersion is the metadata.resourceVersion a patch sets (a
// precondition, as in kube-apiserver), or "".
func patchResourceVersion(patch interface{}) string {
	switch p := patch.(type) {
	case map[string]interface{}:
		m, _ := p["metadata"].(map[string]interface{})
		rv, _ := m["resourceVersion"].(string)
		return rv
	case []interface{}:
		for _, op := range p {
			if m, ok := op.(map[string]interface{}); ok && m["path"] == "/metadata/resourceVersion" && (m["op"] == "replace" || m["op"] == "add") {
				rv, _ := m["value"].(string)
				return rv
			}
		}
	}
	return ""
}

package main

import (
	"fmt"
	"strings"
)

// requirement is one term of a label selector.
type requirement struct {
	key    string
	op     string // "=", "!=", "in", "notin", "exists", "!"
	values []string
}

type labelSelector []requirement

func (ls labelSelector) matches(labels map[string]string) bool {
	for _, r := range ls {
		v, has := labels[r.key]
		switch r.op {
		case "=":
			if !has || v != r.values[0] {
				return false
			}
		case "!=":
			if has && v == r.values[0] {
				return false
			}
		case "in":
			if !has || !contains(r.values, v) {
				return false
			}
		case "notin":
			if has && contains(r.values, v) {
				return false
			}
		case "exists":
			if !has {
				return false
			}
		case "!":
			if has {
				return false
			}
		case "gt", "lt":
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// parseLabelSelector parses the string form: "a=b,c!=d,e in (x,y),f notin (z),g,!h".
func parseLabelSelector(s string) (labelSelector, error) {
	var out labelSelector
	i := 0
	n := len(s)
	skip := func() {
		for i < n && s[i] == ' ' {
			i++
		}
	}
	for {
		skip()
		if i >= n {
			break
		}
		var r requirement
		if s[i] == '!' {
			i++
			skip()
			j := i
			for i < n && s[i] != ',' && s[i] != ' ' {
				i++
			}
			r.key, r.op = s[j:i], "!"
		} else {
			j := i
			for i < n && !strings.ContainsRune("=!, ", rune(s[i])) {
				i++
			}
			r.key = s[j:i]
			skip()
			switch {
			case i >= n || s[i] == ',':
				r.op = "exists"
			case strings.HasPrefix(s[i:], "=="):
				r.op, i = "=", i+2
			case strings.HasPrefix(s[i:], "!="):
				r.op, i = "!=", i+2
			case s[i] == '=':
				r.op, i = "=", i+1
			case strings.HasPrefix(s[i:], "in ") || strings.HasPrefix(s[i:], "in("):
				r.op, i = "in", i+2
			case strings.HasPrefix(s[i:], "notin ") || strings.HasPrefix(s[i:], "notin("):
				r.op, i = "notin", i+5
			default:
				return nil, fmt.Errorf("found '%s', expected: '=', '!=', '==', 'in', notin'", s[i:])
			}
			skip()
			if r.op == "in" || r.op == "notin" {
				if i >= n || s[i] != '(' {
					return nil, fmt.Errorf("found '%s', expected: '('", s[i:])
				}
				end := strings.IndexByte(s[i:], ')')
				if end < 0 {
					return nil, fmt.Errorf("found '', expected: ')'")
				}
				for _, v := range strings.Split(s[i+1:i+end], ",") {
					r.values = append(r.values, strings.TrimSpace(v))
				}
				i += end + 1
			} else if r.op == "=" || r.op == "!=" {
				j := i
				for i < n && s[i] != ',' && s[i] != ' ' {
					i++
				}
				r.values = []string{s[j:i]}
			}
		}
		if r.key == "" {
			return nil, fmt.Errorf("key: Invalid value: \"\": name part must be non-empty")
		}
		out = append(out, r)
		skip()
		if i < n {
			if s[i] != ',' {
				return nil, fmt.Errorf("found '%s', expected: ',' or 'end of string'", s[i:])
			}
			i++
		}
	}
	return out, nil
}

// metaSelector is a metav1.LabelSelector from a stored object (matchLabels,
// matchExpressions).  ok is false when it cannot be read.
func metaSelector(v interface{}) (labelSelector, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("selector is not an object")
	}
	var out labelSelector
	if ml, ok := m["matchLabels"].(map[string]interface{}); ok {
		for k, val := range ml {
			s, _ := val.(string)
			out = append(out, requirement{key: k, op: "=", values: []string{s}})
		}
	}
	if me, ok := m["matchExpressions"].([]interface{}); ok {
		for _, e := range me {
			em, _ := e.(map[string]interface{})
			key, _ := em["key"].(string)
			op, _ := em["operator"].(string)
			var vals []string
			if vl, ok := em["values"].([]interface{}); ok {
				for _, x := range vl {
					s, _ := x.(string)
					vals = append(vals, s)
				}
			}
			var r requirement
			switch op {
			case "In":
				r = requirement{key: key, op: "in", values: vals}
			case "NotIn":
				r = requirement{key: key, op: "notin", values: vals}
			case "Exists":
				r = requirement{key: key, op: "exists"}
			case "DoesNotExist":
				r = requirement{key: key, op: "!"}
			default:
				return nil, fmt.Errorf("%q is not a valid label selector operator", op)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Table output of custom resources, as apiextensions' tableconvertor: a Name
// column, then the version's additionalPrinterColumns (or, when it has none,
// Age from .metadata.creationTimestamp).  Cells: type string prints the
// value as kubectl's JSONPath does (maps and lists as JSON); integer, number,
// boolean cells are typed or null; date cells are rendered by the server as
// an age ("5s", "3m20s"), "<invalid>" when unparsable.  A column whose path
// finds nothing is null (kubectl prints <none>).  JSONPath: .a.b, ['a'],
// [N], [*] and filters [?(@.f=="v")], [?(@.f!="v")], [?(@.f)].

type printerColumn struct {
	name, typ, format, description, jsonPath string
	priority                                 int64
	path                                     []jpStep
}

func printerColumns(v interface{}) []printerColumn {
	l, _ := v.([]interface{})
	var out []printerColumn
	for _, c := range l {
		m, _ := c.(map[string]interface{})
		pc := printerColumn{name: str(m, "name"), typ: str(m, "type"), format: str(m, "format"),
			description: str(m, "description"), jsonPath: str(m, "jsonPath")}
		if n, ok := m["priority"].(json.Number); ok {
			pc.priority, _ = n.Int64()
		}
		if pc.description == "" {
			pc.description = "Custom resource definition column (in JSONPath format): " + pc.jsonPath
		}
		pc.path, _ = parseJSONPath(pc.jsonPath)
		out = append(out, pc)
	}
	if len(out) == 0 {
		out = []printerColumn{{name: "Age", typ: "date", jsonPath: ".metadata.creationTimestamp", description: colAge.Description,
			path: []jpStep{{field: "metadata"}, {field: "creationTimestamp"}}}}
	}
	return out
}

type jpStep struct {
	field  string // a key
	index  *int   // [N]
	all    bool   // [*]
	filter *jpFilter
}

type jpFilter struct {
	path  []string
	op    string // "==", "!=", "exists"
	value string
}

// parseJSONPath reads the simple JSONPaths printer columns use.
func parseJSONPath(p string) ([]jpStep, error) {
	var out []jpStep
	s := strings.TrimSpace(p)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return nil, fmt.Errorf("empty path")
	}
	for len(s) > 0 {
		switch {
		case s[0] == '.':
			s = s[1:]
			i := 0
			for i < len(s) && s[i] != '.' && s[i] != '[' {
				i++
			}
			if i == 0 {
				return nil, fmt.Errorf("empty field in %q", p)
			}
			out = append(out, jpStep{field: s[:i]})
			s = s[i:]
		case s[0] == '[':
			end := strings.Index(s, "]")
			if strings.HasPrefix(s, "[?(") {
				end = strings.Index(s, ")]")
				if end < 0 {
					return nil, fmt.Errorf("unterminated filter in %q", p)
				}
				f, err := parseFilter(s[3:end])
				if err != nil {
					return nil, err
				}
				out = append(out, jpStep{filter: f})
				s = s[end+2:]
				continue
			}
			if end < 0 {
				return nil, fmt.Errorf("unterminated [ in %q", p)
			}
			in := strings.TrimSpace(s[1:end])
			s = s[end+1:]
			switch {
			case in == "*":
				out = append(out, jpStep{all: true})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				out = append(out, jpStep{field: in[1 : len(in)-1]})
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return nil, fmt.Errorf("bad index %q in %q", in, p)
				}
				out = append(out, jpStep{index: &n})
			}
		default:
			return nil, fmt.Errorf("unexpected %q in %q", s, p)
		}
	}
	return out, nil
}

func parseFilter(f string) (*jpFilter, error) {
	f = strings.TrimSpace(f)
	op := "exists"
	lhs, rhs := f, ""
	for _, o := range []string{"==", "!="} {
		if i := strings.Index(f, o); i >= 0 {
			op, lhs, rhs = o, strings.TrimSpace(f[:i]), strings.TrimSpace(f[i+2:])
			break
		}
	}
	if !strings.HasPrefix(lhs, "@.") {
		return nil, fmt.Errorf("unsupported filter %q", f)
	}
	if op != "exists" {
		if len(rhs) >= 2 && (rhs[0] == '"' || rhs[0] == '\'') && rhs[len(rhs)-1] == rhs[0] {
			rhs = rhs[1 : len(rhs)-1]
		}
	}
	return &jpFilter{path: strings.Split(lhs[2:], "."), op: op, value: rhs}, nil
}

// evalJSONPath returns the values PATH finds in X, in order.
func evalJSONPath(x interface{}, path []jpStep) []interface{} {
	cur := []interface{}{x}
	for _, st := range path {
		var next []interface{}
		for _, v := range cur {
			switch {
			case st.field != "":
				if m, ok := v.(map[string]interface{}); ok {
					if c, ok := m[st.field]; ok {
						next = append(next, c)
					}
				}
			case st.index != nil:
				if l, ok := v.([]interface{}); ok {
					i := *st.index
					if i < 0 {
						i += len(l)
					}
					if i >= 0 && i < len(l) {
						next = append(next, l[i])
					}
				}
			case st.all:
				switch t := v.(type) {
				case []interface{}:
					next = append(next, t...)
				case map[string]interface{}:
					for _, k := range sortedKeys(t) {
						next = append(next, t[k])
					}
				}
			case st.filter != nil:
				l, _ := v.([]interface{})
				for _, e := range l {
					got := evalJSONPath(e, fieldSteps(st.filter.path))
					switch st.filter.op {
					case "exists":
						if len(got) > 0 {
							next = append(next, e)
						}
					case "==", "!=":
						eq := len(got) > 0 && jpText(got[0]) == st.filter.value
						if eq == (st.filter.op == "==") && len(got) > 0 {
							next = append(next, e)
						}
					}
				}
			}
		}
		cur = next
	}
	return cur
}

func fieldSteps(p []string) []jpStep {
	out := make([]jpStep, len(p))
	for i, f := range p {
		out[i] = jpStep{field: f}
	}
	return out
}

// jpText prints a value as client-go's JSONPath PrintResults does.
func jpText(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return "<no value>"
	case string:
		return t
	case map[string]interface{}, []interface{}:
		b, _ := json.Marshal(t)
		return string(b)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	default:
		return fmt.Sprint(t)
	}
}

func crColumns(cv *crdVersion) []column {
	cols := []column{colName}
	for _, c := range cv.columns {
		cols = append(cols, column{Name: c.name, Type: c.typ, Format: c.format, Description: c.description, Priority: int(c.priority)})
	}
	return cols
}

func crCells(cv *crdVersion, o obj) []interface{} {
	cells := []interface{}{metaString(o, "name")}
	for _, c := range cv.columns {
		got := evalJSONPath(map[string]interface{}(o), c.path)
		if len(got) == 0 {
			cells = append(cells, nil)
			continue
		}
		cells = append(cells, crCell(c.typ, got[0]))
	}
	return cells
}

// crCell is tableconvertor's cellForJSONValue (and the string printer).
func crCell(typ string, v interface{}) interface{} {
	if typ == "string" {
		return jpText(v)
	}
	if v == nil {
		return nil
	}
	switch typ {
	case "integer":
		switch t := v.(type) {
		case int64:
			return t
		case float64:
			return int64(t)
		case json.Number:
			if i, err := t.Int64(); err == nil {
				return i
			}
		}
	case "number":
		switch t := v.(type) {
		case int64:
			return float64(t)
		case float64:
			return t
		case json.Number:
			if f, err := t.Float64(); err == nil {
				return f
			}
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return b
		}
	case "date":
		if s, ok := v.(string); ok {
			if s == "" {
				return "<unknown>"
			}
			ts, err := apiParseTime(layoutTime, s)
			if err != nil {
				return "<invalid>"
			}
			if ts.IsZero() {
				return "<unknown>"
			}
			return humanDuration(time.Since(ts))
		}
	}
	return nil
}

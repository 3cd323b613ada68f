package main

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Structural schemas of CustomResourceDefinitions, and what
// apiextensions-apiserver does with them to a custom resource:
//   - decoding: unknown fields are pruned (reported for fieldValidation
//     Strict/Warn as `unknown field "spec.foo"`, sorted), except under
//     x-kubernetes-preserve-unknown-fields; nulls of non-nullable fields
//     without a default are dropped; then defaults are applied;
//   - validation (kube-openapi's validator, converted to field errors as
//     apiextensions' kubeOpenAPIResultToFieldErrors does): type, enum,
//     required, minLength/maxLength, pattern, format date-time,
//     minimum/maximum, minItems/maxItems, uniqueItems, min/maxProperties,
//     x-kubernetes-list-type set/map uniqueness; on update, errors in values
//     equal to the old object's are dropped (CRDValidationRatcheting, on in 1.32).
// Not implemented: allOf/anyOf/oneOf/not, x-kubernetes-validations (CEL),
// other formats, x-kubernetes-embedded-resource metadata coercion.

type schemaNode struct {
	typ             string
	nullable        bool
	format          string
	enum            []interface{}
	required        []string
	props           map[string]*schemaNode
	additional      *schemaNode
	items           *schemaNode
	minLength       *int64
	maxLength       *int64
	minItems        *int64
	maxItems        *int64
	minProps        *int64
	maxProps        *int64
	minimum         *float64
	maximum         *float64
	exclusiveMin    bool
	exclusiveMax    bool
	multipleOf      *float64
	pattern         string
	re              *regexp.Regexp
	uniqueItems     bool
	preserveUnknown bool
	intOrString     bool
	listType        string
	listMapKeys     []string
	def             interface{}
	hasDefault      bool
}

func int64Field(m map[string]interface{}, k string) *int64 {
	if n, ok := m[k].(json.Number); ok {
		if v, err := n.Int64(); err == nil {
			return &v
		}
	}
	return nil
}

func floatField(m map[string]interface{}, k string) *float64 {
	if n, ok := m[k].(json.Number); ok {
		if v, err := n.Float64(); err == nil {
			return &v
		}
	}
	return nil
}

// parseSchema reads an openAPIV3Schema (JSONSchemaProps as JSON).
func parseSchema(v interface{}) (*schemaNode, error) {
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("schema is not an object")
	}
	n := &schemaNode{}
	n.typ, _ = m["type"].(string)
	n.nullable, _ = m["nullable"].(bool)
	n.format, _ = m["format"].(string)
	if e, ok := m["enum"].([]interface{}); ok {
		for _, x := range e {
			n.enum = append(n.enum, jsonValue(x))
		}
	}
	n.required = strList(m["required"])
	if p, ok := m["properties"].(map[string]interface{}); ok {
		n.props = map[string]*schemaNode{}
		for k, ps := range p {
			c, err := parseSchema(ps)
			if err != nil {
				return nil, fmt.Errorf("properties[%s]: %v", k, err)
			}
			n.props[k] = c
		}
	}
	if ap, ok := m["additionalProperties"].(map[string]interface{}); ok {
		c, err := parseSchema(ap)
		if err != nil {
			return nil, fmt.Errorf("additionalProperties: %v", err)
		}
		n.additional = c
	}
	if it, ok := m["items"].(map[string]interface{}); ok {
		c, err := parseSchema(it)
		if err != nil {
			return nil, fmt.Errorf("items: %v", err)
		}
		n.items = c
	}
	n.minLength, n.maxLength = int64Field(m, "minLength"), int64Field(m, "maxLength")
	n.minItems, n.maxItems = int64Field(m, "minItems"), int64Field(m, "maxItems")
	n.minProps, n.maxProps = int64Field(m, "minProperties"), int64Field(m, "maxProperties")
	n.minimum, n.maximum = floatField(m, "minimum"), floatField(m, "maximum")
	n.exclusiveMin, _ = m["exclusiveMinimum"].(bool)
	n.exclusiveMax, _ = m["exclusiveMaximum"].(bool)
	n.multipleOf = floatField(m, "multipleOf")
	if p, ok := m["pattern"].(string); ok && p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %v", p, err)
		}
		n.pattern, n.re = p, re
	}
	n.uniqueItems, _ = m["uniqueItems"].(bool)
	n.preserveUnknown, _ = m["x-kubernetes-preserve-unknown-fields"].(bool)
	n.intOrString, _ = m["x-kubernetes-int-or-string"].(bool)
	n.listType, _ = m["x-kubernetes-list-type"].(string)
	n.listMapKeys = strList(m["x-kubernetes-list-map-keys"])
	if d, ok := m["default"]; ok {
		n.def, n.hasDefault = jsonValue(d), true
	}
	return n, nil
}

// jsonValue turns parsed JSON into what the apiserver's unstructured decoder
// holds: int64 for integers, float64 for other numbers (a copy).
func jsonValue(v interface{}) interface{} {
	return copyJSON(v, func(leaf interface{}) interface{} {
		n, ok := leaf.(json.Number)
		if !ok {
			return leaf
		}
		if i, err := n.Int64(); err == nil {
			return i
		}
		f, _ := n.Float64()
		return f
	})
}

// unknownPaths collects pruned fields as apiextensions names them.
type unknownPaths struct{ paths []string }

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// prune removes what S does not know in X (PruneWithOptions); ROOT: the
// resource root, where apiVersion, kind and metadata are kept.
func prune(x interface{}, s *schemaNode, path string, root bool, u *unknownPaths) {
	if s != nil && s.preserveUnknown {
		skipPrune(x, s, path, u)
		return
	}
	switch t := x.(type) {
	case map[string]interface{}:
		for _, k := range sortedKeys(t) {
			if root && (k == "apiVersion" || k == "kind" || k == "metadata") {
				continue
			}
			if s != nil {
				if p, ok := s.props[k]; ok {
					prune(t[k], p, joinKey(path, k), false, u)
					continue
				}
				if s.additional != nil {
					prune(t[k], s.additional, joinKey(path, k), false, u)
					continue
				}
			}
			u.paths = append(u.paths, joinKey(path, k))
			delete(t, k)
		}
	case []interface{}:
		var items *schemaNode
		if s != nil {
			items = s.items
		}
		for i, v := range t {
			prune(v, items, fmt.Sprintf("%s[%d]", path, i), false, u)
		}
	}
}

func skipPrune(x interface{}, s *schemaNode, path string, u *unknownPaths) {
	switch t := x.(type) {
	case map[string]interface{}:
		for _, k := range sortedKeys(t) {
			if p, ok := s.props[k]; ok {
				prune(t[k], p, joinKey(path, k), false, u)
			} else if s.additional != nil {
				prune(t[k], s.additional, joinKey(path, k), false, u)
			}
		}
	case []interface{}:
		if s.items == nil {
			return
		}
		for i, v := range t {
			skipPrune(v, s.items, fmt.Sprintf("%s[%d]", path, i), u)
		}
	}
}

func fieldSchema(s *schemaNode, k string) *schemaNode {
	if s == nil {
		return nil
	}
	if p, ok := s.props[k]; ok {
		return p
	}
	return s.additional
}

// pruneNulls drops nulls of non-nullable fields that have no default
// (PruneNonNullableNullsWithoutDefaults).
func pruneNulls(x interface{}, s *schemaNode) {
	switch t := x.(type) {
	case map[string]interface{}:
		for k, v := range t {
			fs := fieldSchema(s, k)
			if v == nil && fs != nil && !fs.nullable && !fs.hasDefault {
				delete(t, k)
				continue
			}
			pruneNulls(v, fs)
		}
	case []interface{}:
		var items *schemaNode
		if s != nil {
			items = s.items
		}
		for _, v := range t {
			pruneNulls(v, items)
		}
	}
}

// applyDefaults is structural defaulting (defaulting.Default).
func applyDefaults(x interface{}, s *schemaNode) {
	if s == nil {
		return
	}
	switch t := x.(type) {
	case map[string]interface{}:
		for k, p := range s.props {
			if !p.hasDefault {
				continue
			}
			if v, found := t[k]; !found || (v == nil && !p.nullable) {
				t[k] = deepCopy(p.def)
			}
		}
		for k := range t {
			if p, ok := s.props[k]; ok {
				applyDefaults(t[k], p)
			} else if s.additional != nil {
				if t[k] == nil && !s.additional.nullable && s.additional.hasDefault {
					t[k] = deepCopy(s.additional.def)
				}
				applyDefaults(t[k], s.additional)
			}
		}
	case []interface{}:
		for i := range t {
			if t[i] == nil && s.items != nil && !s.items.nullable && s.items.hasDefault {
				t[i] = deepCopy(s.items.def)
			}
			applyDefaults(t[i], s.items)
		}
	}
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// schemaError is one kube-openapi validation error: its code, the path it
// names (relative to the validated value), the bad value and its message.
type schemaError struct {
	code    string // type, required, enum, tooLong, tooMany, other
	name    string
	value   interface{}
	valid   int64
	values  []interface{}
	message string
}

type validation struct {
	errs []schemaError
}

// validate checks X against S at PATH.  OLD is the correlated old value
// (ratcheting), HASOLD whether there is one: errors of a value equal to it
// are dropped.
func (v *validation) validate(x interface{}, s *schemaNode, path string, old interface{}, hasOld bool) {
	if s == nil {
		return
	}
	mark := len(v.errs)
	defer func() {
		if hasOld && len(v.errs) > mark && reflect.DeepEqual(x, old) {
			v.errs = v.errs[:mark]
		}
	}()
	if x == nil {
		if s.typ != "" && !s.nullable {
			v.add(schemaError{code: "type", name: path, value: "null", message: fmt.Sprintf("%s in body must be of type %s: %q", path, s.typ, "null")})
		}
		v.enum(x, s, path)
		return
	}
	schType := jsonType(x)
	if s.typ != "" || s.format != "" {
		// kube-openapi's typeValidator.
		isFloatInt := schType == "number" && isIntegral(x) && s.typ == "integer"
		isIntFloat := schType == "integer" && s.typ == "number"
		isString, isSlice := schType == "string", schType == "array"
		numericType := s.typ == "number" || s.typ == "integer"
		switch {
		case !isString && !isSlice && s.format != "" && !(s.typ == schType || goFormat(x) == s.format || isFloatInt || isIntFloat ||
			(s.format == "int64" && goFormat(x) == "int32") || (s.format == "float64" && goFormat(x) == "float32")):
			v.add(schemaError{code: "type", name: path, value: goFormat(x), message: fmt.Sprintf("%s in body must be of type %s: %q", path, s.format, goFormat(x))})
		case !numericType && s.format != "" && (isString || isSlice):
		case s.typ != "" && !(s.typ == schType || isFloatInt || isIntFloat):
			v.add(schemaError{code: "type", name: path, value: schType, message: fmt.Sprintf("%s in body must be of type %s: %q", path, s.typ, schType)})
		}
	} else if s.intOrString && schType != "integer" && schType != "string" {
		v.add(schemaError{code: "type", name: path, value: schType, message: fmt.Sprintf("%s in body must be of type integer,string: %q", path, schType)})
	}
	switch t := x.(type) {
	case string:
		n := int64(utf8.RuneCountInString(t))
		switch {
		case s.maxLength != nil && n > *s.maxLength:
			v.add(schemaError{code: "tooLong", name: path, value: t, valid: *s.maxLength, message: fmt.Sprintf("%s in body should be at most %d chars long", path, *s.maxLength)})
		case s.minLength != nil && n < *s.minLength:
			v.add(schemaError{code: "other", name: path, value: t, message: fmt.Sprintf("%s in body should be at least %d chars long", path, *s.minLength)})
		case s.re != nil && !s.re.MatchString(t):
			v.add(schemaError{code: "other", name: path, value: t, message: fmt.Sprintf("%s in body should match '%s'", path, s.pattern)})
		}
		if s.format == "date-time" && !isDateTime(t) {
			v.add(schemaError{code: "type", name: path, value: t, message: fmt.Sprintf("%s in body must be of type date-time: %q", path, t)})
		}
	case int64, float64:
		f := toFloat(t)
		if s.multipleOf != nil && *s.multipleOf > 0 && math.Mod(f, *s.multipleOf) != 0 {
			v.add(schemaError{code: "other", name: path, value: t, message: fmt.Sprintf("%s in body should be a multiple of %v", path, *s.multipleOf)})
		}
		if s.minimum != nil && (f < *s.minimum || (s.exclusiveMin && f == *s.minimum)) {
			verb := "greater than or equal to"
			if s.exclusiveMin {
				verb = "greater than"
			}
			v.add(schemaError{code: "other", name: path, value: t, message: fmt.Sprintf("%s in body should be %s %v", path, verb, numString(*s.minimum, t))})
		}
		if s.maximum != nil && (f > *s.maximum || (s.exclusiveMax && f == *s.maximum)) {
			verb := "less than or equal to"
			if s.exclusiveMax {
				verb = "less than"
			}
			v.add(schemaError{code: "other", name: path, value: t, message: fmt.Sprintf("%s in body should be %s %v", path, verb, numString(*s.maximum, t))})
		}
	case []interface{}:
		var oldList []interface{}
		if hasOld {
			oldList, _ = old.([]interface{})
		}
		for i, e := range t {
			oe, ok := correlateItem(s, e, oldList)
			v.validate(e, s.items, fmt.Sprintf("%s[%d]", path, i), oe, ok)
		}
		size := int64(len(t))
		if s.minItems != nil && size < *s.minItems {
			v.add(schemaError{code: "other", name: path, value: size, message: fmt.Sprintf("%s in body should have at least %d items", path, *s.minItems)})
		}
		if s.maxItems != nil && size > *s.maxItems {
			v.add(schemaError{code: "tooMany", name: path, value: size, valid: *s.maxItems, message: fmt.Sprintf("%s in body should have at most %d items", path, *s.maxItems)})
		}
		if s.uniqueItems {
			for i := range t {
				for j := 0; j < i; j++ {
					if reflect.DeepEqual(t[i], t[j]) {
						v.add(schemaError{code: "other", name: path, message: fmt.Sprintf("%s in body shouldn't contain duplicates", path)})
						i = len(t)
						break
					}
				}
			}
		}
	}
	v.enum(x, s, path)
	if m, ok := x.(map[string]interface{}); ok {
		var oldMap map[string]interface{}
		if hasOld {
			oldMap, _ = old.(map[string]interface{})
		}
		n := int64(len(m))
		if s.minProps != nil && n < *s.minProps {
			v.add(schemaError{code: "other", name: path, value: n, message: fmt.Sprintf("%s in body should have at least %d properties", path, *s.minProps)})
		}
		if s.maxProps != nil && n > *s.maxProps {
			v.add(schemaError{code: "tooMany", name: path, value: n, valid: *s.maxProps, message: fmt.Sprintf("%s in body should have at most %d properties", path, *s.maxProps)})
		}
		for _, k := range sortedKeys(m) {
			c := s.props[k]
			if c == nil {
				c = s.additional
			}
			if c == nil {
				continue
			}
			ov, has := oldMap[k]
			v.validate(m[k], c, joinKey(path, k), ov, has)
		}
		for _, k := range s.required {
			if _, ok := m[k]; !ok {
				v.add(schemaError{code: "required", name: path + "." + k, message: fmt.Sprintf("%s.%s in body is required", path, k)})
			}
		}
	}
}

func (v *validation) add(e schemaError) { v.errs = append(v.errs, e) }

func (v *validation) enum(x interface{}, s *schemaNode, path string) {
	if len(s.enum) == 0 {
		return
	}
	for _, e := range s.enum {
		if enumEqual(x, e) {
			return
		}
	}
	v.add(schemaError{code: "enum", name: path, value: x, values: s.enum, message: fmt.Sprintf("%s in body should be one of %v", path, s.enum)})
}

func enumEqual(x, e interface{}) bool {
	if xf, ok := numeric(x); ok {
		if ef, ok := numeric(e); ok {
			return xf == ef
		}
		return false
	}
	return reflect.DeepEqual(x, e)
}

func numeric(x interface{}) (float64, bool) {
	switch t := x.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

func toFloat(x interface{}) float64 { f, _ := numeric(x); return f }

func isIntegral(x interface{}) bool {
	f, ok := x.(float64)
	return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
}

// numString prints a limit as kube-openapi does: an int64 for integer data.
func numString(limit float64, data interface{}) string {
	if _, ok := data.(int64); ok {
		return strconv.FormatInt(int64(limit), 10)
	}
	return strconv.FormatFloat(limit, 'g', -1, 64)
}

func goFormat(x interface{}) string {
	switch x.(type) {
	case int64:
		return "int64"
	case float64:
		return "float64"
	}
	return ""
}

// jsonType is the schema type of a decoded JSON value, in OpenAPI's words
// ("boolean", "integer"), as schema validation messages say them; the typed
// decoder's errors use encoding/json's words instead (jsonTypeName).
func jsonType(x interface{}) string {
	switch x.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	case []interface{}:
		return "array"
	case map[string]interface{}:
		return "object"
	}
	return "null"
}

// correlateItem finds the old element of a list-type map (by keys) or set
// (by value) for ratcheting; atomic lists do not correlate.
func correlateItem(s *schemaNode, e interface{}, old []interface{}) (interface{}, bool) {
	switch s.listType {
	case "set":
		for _, o := range old {
			if reflect.DeepEqual(o, e) {
				return o, true
			}
		}
	case "map":
		em, ok := e.(map[string]interface{})
		if !ok {
			return nil, false
		}
		for _, o := range old {
			om, ok := o.(map[string]interface{})
			if !ok {
				continue
			}
			match := true
			for _, k := range s.listMapKeys {
				if !reflect.DeepEqual(em[k], om[k]) {
					match = false
				}
			}
			if match {
				return o, true
			}
		}
	}
	return nil, false
}

var dateTimeRx = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$`)

// isDateTime approximates strfmt's date-time check.
func isDateTime(s string) bool { return dateTimeRx.MatchString(s) }

// listTypeErrors checks x-kubernetes-list-type set and map (duplicates).
func listTypeErrors(x interface{}, s *schemaNode, path string) []fieldError {
	if s == nil {
		return nil
	}
	var errs []fieldError
	switch t := x.(type) {
	case map[string]interface{}:
		for _, k := range sortedKeys(t) {
			errs = append(errs, listTypeErrors(t[k], fieldSchema(s, k), joinKey(path, k))...)
		}
	case []interface{}:
		for i, e := range t {
			errs = append(errs, listTypeErrors(e, s.items, fmt.Sprintf("%s[%d]", path, i))...)
		}
		for i := range t {
			for j := 0; j < i; j++ {
				dup := false
				switch s.listType {
				case "set":
					dup = reflect.DeepEqual(t[i], t[j])
				case "map":
					mi, ok1 := t[i].(map[string]interface{})
					mj, ok2 := t[j].(map[string]interface{})
					if ok1 && ok2 {
						dup = true
						for _, k := range s.listMapKeys {
							if !reflect.DeepEqual(mi[k], mj[k]) {
								dup = false
							}
						}
					}
				}
				if dup {
					val := t[i]
					if s.listType == "map" {
						keys := map[string]interface{}{}
						for _, k := range s.listMapKeys {
							keys[k] = t[i].(map[string]interface{})[k]
						}
						val = keys
					}
					errs = append(errs, fieldError{typ: "FieldValueDuplicate", field: fmt.Sprintf("%s[%d]", path, i), value: goValue(val)})
					break
				}
			}
		}
	}
	return errs
}

// goValue prints a value as field.Error does with %#v for maps and slices.
func goValue(v interface{}) interface{} {
	switch v.(type) {
	case map[string]interface{}, []interface{}:
		return rawValue(fmt.Sprintf("%#v", v))
	}
	return v
}

// fieldErrors converts kube-openapi errors to field errors under PREFIX
// (kubeOpenAPIResultToFieldErrors).
func (v *validation) fieldErrors(prefix string) []fieldError {
	var out []fieldError
	for _, e := range v.errs {
		p := prefix
		if n := strings.TrimPrefix(e.name, "."); e.name != "" && e.name != "." {
			p = joinKey(prefix, n)
		}
		switch e.code {
		case "required":
			out = append(out, fieldError{typ: "FieldValueRequired", field: p})
		case "enum":
			var vals []string
			for _, a := range e.values {
				if s, ok := a.(string); ok {
					vals = append(vals, strconv.Quote(s))
				} else {
					b, _ := json.Marshal(a)
					vals = append(vals, strconv.Quote(string(b)))
				}
			}
			out = append(out, fieldError{typ: "FieldValueNotSupported", field: p, detail: fmt.Sprintf("%s: supported values: %s", valueString(goValue(e.value)), strings.Join(vals, ", "))})
		case "tooLong":
			out = append(out, fieldError{typ: "FieldValueTooLong", field: p, detail: fmt.Sprintf("may not be more than %d bytes", e.valid)})
		case "tooMany":
			out = append(out, fieldError{typ: "FieldValueTooMany", field: p, value: e.value, detail: fmt.Sprintf("must have at most %d items", e.valid)})
		case "type":
			out = append(out, fieldError{typ: "FieldValueTypeInvalid", field: p, value: goValue(e.value), detail: e.message})
		default:
			val := e.value
			if val == nil {
				val = ""
			}
			out = append(out, fieldError{typ: "FieldValueInvalid", field: p, value: goValue(val), detail: e.message})
		}
	}
	return out
}

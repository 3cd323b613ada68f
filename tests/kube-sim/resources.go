package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
)

// resDef describes one served resource.
type resDef struct {
	group, version, resource, kind, singular string
	namespaced                               bool
	verbs                                    []string
	shortNames                               []string
	categories                               []string
	allowCreateOnUpdate                      bool
	createOnly                               bool // tokenreviews: nothing stored
	hasGeneration                            bool
	// topFields are the known top-level fields (unknown-field detection).
	topFields []string
	// decodeCheck reports what the real server's typed JSON decoding rejects
	// (400), and rewrites what its decode and re-encode change (times).
	decodeCheck func(o obj) error
	// prepare applies the strategy's PrepareForCreate/Update (OLD nil on create).
	prepare func(o, old obj)
	// validate returns the strategy's validation errors (OLD nil on create).
	validate func(o, old obj) []fieldError
	// specChanged tells an update that bumps metadata.generation.
	specChanged func(o, old obj) bool
	// requireRV: an update (PUT) must carry metadata.resourceVersion
	// (AllowUnconditionalUpdate false: CRDs and custom resources).
	requireRV bool
	// status reports whether the status subresource is served; prepareStatus
	// and validateStatus are its strategy (nil: the main resource's).
	status         func() bool
	prepareStatus  func(o, old obj)
	validateStatus func(o, old obj) []fieldError

	// Custom resources: the CRD version served (crv), the resDef objects are
	// stored under (shared by a CRD's versions), the list kind.
	crv          atomic.Pointer[crdVersion]
	storage      *resDef
	listKindName string
}

// key is the resDef objects of R are stored and watched under.
func (r *resDef) key() *resDef {
	if r.storage != nil {
		return r.storage
	}
	return r
}

func (r *resDef) hasStatus() bool { return r.status != nil && r.status() }

func (r *resDef) groupVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

func (r *resDef) listKind() string {
	if r.listKindName != "" {
		return r.listKindName
	}
	return r.kind + "List"
}

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

var (
	resNamespaces = &resDef{group: "", version: "v1", resource: "namespaces", kind: "Namespace", singular: "namespace",
		verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, shortNames: []string{"ns"},
		topFields: []string{"spec", "status"}, prepare: prepareNamespace, validate: validateNamespace}
	resConfigMaps = &resDef{group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", singular: "configmap",
		namespaced: true, verbs: allVerbs, shortNames: []string{"cm"},
		topFields: []string{"data", "binaryData", "immutable"}, decodeCheck: checkConfigMap, validate: validateConfigMap}
	resLeases = &resDef{group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", singular: "lease",
		namespaced: true, verbs: allVerbs, allowCreateOnUpdate: true,
		topFields: []string{"spec"}, decodeCheck: checkLease, prepare: prepareLease, validate: validateLease}
	resTokenReviews = &resDef{group: "authentication.k8s.io", version: "v1", resource: "tokenreviews", kind: "TokenReview", singular: "tokenreview",
		verbs: []string{"create"}, createOnly: true, topFields: []string{"spec", "status"}}
	resVWCs = &resDef{group: "admissionregistration.k8s.io", version: "v1", resource: "validatingwebhookconfigurations",
		kind: "ValidatingWebhookConfiguration", singular: "validatingwebhookconfiguration", verbs: allVerbs,
		categories: []string{"api-extensions"}, hasGeneration: true,
		topFields: []string{"webhooks"}, decodeCheck: checkVWC, prepare: prepareVWC, validate: validateVWC,
		specChanged: func(o, old obj) bool { return !jsonEqual(o["webhooks"], old["webhooks"]) }}
)

// builtinResources are always served; custom resources join them (sim.resources).
var builtinResources = []*resDef{resNamespaces, resConfigMaps, resLeases, resTokenReviews, resVWCs, resCRDs}

var metaFields = map[string]bool{"name": true, "generateName": true, "namespace": true, "selfLink": true, "uid": true,
	"resourceVersion": true, "generation": true, "creationTimestamp": true, "deletionTimestamp": true,
	"deletionGracePeriodSeconds": true, "labels": true, "annotations": true, "ownerReferences": true,
	"finalizers": true, "managedFields": true}

// unknownFields lists the fields of O the type does not have, as the real
// strict decoder names them ("spec.foo", "foo").
func (r *resDef) unknownFields(o obj) []string {
	var out []string
	known := map[string]bool{"apiVersion": true, "kind": true, "metadata": true}
	for _, f := range r.topFields {
		known[f] = true
	}
	for k := range o {
		if !known[k] {
			out = append(out, k)
		}
	}
	if m, ok := o["metadata"].(map[string]interface{}); ok {
		for k := range m {
			if !metaFields[k] {
				out = append(out, "metadata."+k)
			}
		}
	}
	if r == resCRDs {
		out = append(out, crdUnknownFields(o)...)
	}
	if r == resLeases {
		if sp, ok := o["spec"].(map[string]interface{}); ok {
			for k := range sp {
				switch k {
				case "holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions", "strategy", "preferredHolder":
				default:
					out = append(out, "spec."+k)
				}
			}
		}
	}
	return out
}

// removeFields deletes the named (dotted) fields from O.
func removeFields(o obj, fields []string) {
	for _, f := range fields {
		var cur interface{} = map[string]interface{}(o)
		parts := strings.Split(f, ".")
		for i, p := range parts {
			key, idx := p, -1
			if j := strings.IndexByte(p, '['); j >= 0 && strings.HasSuffix(p, "]") {
				key = p[:j]
				idx, _ = strconv.Atoi(p[j+1 : len(p)-1])
			}
			m, ok := cur.(map[string]interface{})
			if !ok {
				break
			}
			if i == len(parts)-1 && idx < 0 {
				delete(m, key)
				break
			}
			cur = m[key]
			if idx >= 0 {
				l, ok := cur.([]interface{})
				if !ok || idx >= len(l) {
					break
				}
				cur = l[idx]
			}
		}
	}
}

// checkInt32 mimics encoding/json decoding into an int32 field.
func checkInt32(v interface{}, goField string) error {
	switch t := v.(type) {
	case nil:
		return nil
	case json.Number:
		n, err := t.Int64()
		if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
			return unmarshalTypeError("number "+t.String(), goField, "int32")
		}
		return nil
	default:
		return typeError(v, goField, "int32")
	}
}

// checkInt64 mimics encoding/json decoding into an int64 field.
func checkInt64(v interface{}, goField string) error {
	switch t := v.(type) {
	case nil:
		return nil
	case json.Number:
		if _, err := t.Int64(); err != nil {
			return unmarshalTypeError("number "+t.String(), goField, "int64")
		}
		return nil
	default:
		return typeError(v, goField, "int64")
	}
}

func checkString(v interface{}, goField string) error {
	switch v.(type) {
	case nil, string:
		return nil
	}
	return typeError(v, goField, "string")
}

// checkStrings runs checkString on the FIELDS of M, named GOPREFIX+field.
func checkStrings(m map[string]interface{}, goPrefix string, fields ...string) error {
	for _, f := range fields {
		if err := checkString(m[f], goPrefix+f); err != nil {
			return err
		}
	}
	return nil
}

// typeError is encoding/json's UnmarshalTypeError for the JSON value V
// decoded into the Go struct field GOFIELD ("Struct.json.path") of type GOTYPE.
func typeError(v interface{}, goField, goType string) error {
	return unmarshalTypeError(jsonTypeName(v), goField, goType)
}

// unmarshalTypeError is UnmarshalTypeError's message for VALUE ("string",
// "number 1e99") in the struct field GOFIELD of type GOTYPE.
func unmarshalTypeError(value, goField, goType string) error {
	return fmt.Errorf("json: cannot unmarshal %s into Go struct field %s of type %s", value, goField, goType)
}

// objectField is V decoded into a struct or map field: nil when V is absent
// or null, a typeError when it is not a JSON object.
func objectField(v interface{}, goField, goType string) (map[string]interface{}, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, typeError(v, goField, goType)
	}
	return m, nil
}

// jsonTypeName is the name encoding/json's UnmarshalTypeError gives a JSON
// value ("bool", "number"; schema validation says "boolean", "integer": jsonType).
func jsonTypeName(v interface{}) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case []interface{}:
		return "array"
	case map[string]interface{}:
		return "object"
	}
	return "null"
}

func checkLease(o obj) error {
	spec, err := objectField(o["spec"], "Lease.spec", "v1.LeaseSpec")
	if spec == nil {
		return err
	}
	if err := checkString(spec["holderIdentity"], "LeaseSpec.spec.holderIdentity"); err != nil {
		return err
	}
	if err := checkInt32(spec["leaseDurationSeconds"], "LeaseSpec.spec.leaseDurationSeconds"); err != nil {
		return err
	}
	if err := checkInt32(spec["leaseTransitions"], "LeaseSpec.spec.leaseTransitions"); err != nil {
		return err
	}
	// MicroTimes are decoded and re-encoded: UTC, six fraction digits.
	for _, f := range []string{"acquireTime", "renewTime"} {
		if err := canonicalTimeField(spec, f, true, true, "LeaseSpec.spec."+f); err != nil {
			return err
		}
	}
	return nil
}

func checkConfigMap(o obj) error {
	for _, f := range []string{"data", "binaryData"} {
		m, err := objectField(o[f], "ConfigMap."+f, "map[string]string")
		if err != nil {
			return err
		}
		for _, x := range m {
			s, ok := x.(string)
			if !ok {
				return typeError(x, "ConfigMap."+f, "string")
			}
			if f == "binaryData" {
				if _, err := base64.StdEncoding.DecodeString(s); err != nil {
					return fmt.Errorf("illegal base64 data at input byte 0")
				}
			}
		}
	}
	return nil
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	configKey        = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

const (
	subdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	labelMsg     = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)

// validateName checks metadata.name (and namespace) as ValidateObjectMeta does.
func validateMeta(r *resDef, o obj) []fieldError {
	var errs []fieldError
	name := metaString(o, "name")
	if name == "" {
		return []fieldError{{typ: "FieldValueRequired", field: "metadata.name", detail: "name or generateName is required"}}
	}
	if r == resNamespaces {
		if len(name) > 63 || !dns1123Label.MatchString(name) {
			msg := labelMsg
			if len(name) > 63 {
				msg = "must be no more than 63 characters"
			}
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata.name", value: name, detail: msg})
		}
	} else if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		msg := subdomainMsg
		if len(name) > 253 {
			msg = "must be no more than 253 characters"
		}
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata.name", value: name, detail: msg})
	}
	for k, v := range map[string]string{"labels": "", "annotations": ""} {
		_ = v
		m, present := meta(o)[k]
		if !present || m == nil {
			continue
		}
		mm, ok := m.(map[string]interface{})
		if !ok {
			continue
		}
		for lk, lv := range mm {
			if _, ok := lv.(string); !ok {
				errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata." + k, value: lv, detail: "must be a string: " + lk})
			}
		}
	}
	return errs
}

// validateMetaUpdate is the part of ValidateObjectMetaUpdate that kube-sim's
// objects can fail: an update cannot set deletionTimestamp or
// deletionGracePeriodSeconds (only a deletion does; kube-sim's objects never
// have them, they are deleted at once).
func validateMetaUpdate(o, old obj) []fieldError {
	var errs []fieldError
	m, om := meta(o), meta(old)
	if v, ok := m["deletionTimestamp"].(string); ok && v != str(om, "deletionTimestamp") {
		// A *metav1.Time is printed with its String method: no quotes.
		val := v
		if t, err := apiParseTime(layoutTime, v); err == nil {
			val = t.UTC().Format("2006-01-02 15:04:05.999999999 -0700 MST")
		}
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata.deletionTimestamp", value: rawValue(val), detail: "field is immutable"})
	}
	if v, ok := m["deletionGracePeriodSeconds"].(json.Number); ok && v.String() != str(om, "deletionGracePeriodSeconds") {
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata.deletionGracePeriodSeconds", value: v, detail: "field is immutable"})
	}
	return errs
}

func prepareNamespace(o, old obj) {
	m := meta(o)
	labels, _ := m["labels"].(map[string]interface{})
	if labels == nil {
		labels = obj{}
		m["labels"] = labels
	}
	labels["kubernetes.io/metadata.name"] = metaString(o, "name")
	if old == nil {
		o["spec"] = obj{"finalizers": []interface{}{"kubernetes"}}
		o["status"] = obj{"phase": "Active"}
	} else {
		// spec and status of a namespace change only through subresources.
		if sp, ok := old["spec"]; ok {
			o["spec"] = deepCopy(sp)
		}
		if st, ok := old["status"]; ok {
			o["status"] = deepCopy(st)
		}
	}
}

func validateNamespace(o, old obj) []fieldError { return nil }

func validateConfigMap(o, old obj) []fieldError {
	var errs []fieldError
	size := 0
	for _, f := range []string{"data", "binaryData"} {
		m, _ := o[f].(map[string]interface{})
		for k, v := range m {
			if !configKey.MatchString(k) {
				errs = append(errs, fieldError{typ: "FieldValueInvalid", field: f, value: k,
					detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"})
			}
			s, _ := v.(string)
			size += len(s)
		}
	}
	if size > 1024*1024 {
		errs = append(errs, fieldError{typ: "FieldValueTooLong", field: "", value: "", detail: "may not be more than 1048576 bytes"})
	}
	if old != nil {
		if imm, _ := old["immutable"].(bool); imm {
			b1, _ := json.Marshal(o["data"])
			b2, _ := json.Marshal(old["data"])
			b3, _ := json.Marshal(o["binaryData"])
			b4, _ := json.Marshal(old["binaryData"])
			if string(b1) != string(b2) || string(b3) != string(b4) {
				errs = append(errs, fieldError{typ: "FieldValueForbidden", field: "data", detail: "field is immutable when `immutable` is set"})
			}
		}
	}
	return errs
}

// prepareLease drops the CoordinatedLeaderElection fields (alpha, off by
// default in 1.32), as the lease strategy does.
func prepareLease(o, old obj) {
	if sp, ok := o["spec"].(map[string]interface{}); ok {
		delete(sp, "strategy")
		delete(sp, "preferredHolder")
	}
	if _, ok := o["spec"]; !ok {
		o["spec"] = obj{}
	}
}

func validateLease(o, old obj) []fieldError {
	var errs []fieldError
	sp, _ := o["spec"].(map[string]interface{})
	if v, ok := sp["leaseDurationSeconds"].(json.Number); ok {
		if n, _ := v.Int64(); n <= 0 {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.leaseDurationSeconds", value: v, detail: "must be greater than 0"})
		}
	}
	if v, ok := sp["leaseTransitions"].(json.Number); ok {
		if n, _ := v.Int64(); n < 0 {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.leaseTransitions", value: v, detail: "must be greater than or equal to 0"})
		}
	}
	return errs
}

// prepareVWC applies the admissionregistration/v1 defaults kube-apiserver stores.
func prepareVWC(o, old obj) {
	hooks, _ := o["webhooks"].([]interface{})
	for _, h := range hooks {
		w, ok := h.(map[string]interface{})
		if !ok {
			continue
		}
		if _, ok := w["failurePolicy"]; !ok {
			w["failurePolicy"] = "Fail"
		}
		if _, ok := w["matchPolicy"]; !ok {
			w["matchPolicy"] = "Equivalent"
		}
		if _, ok := w["namespaceSelector"]; !ok {
			w["namespaceSelector"] = obj{}
		}
		if _, ok := w["objectSelector"]; !ok {
			w["objectSelector"] = obj{}
		}
		if _, ok := w["timeoutSeconds"]; !ok {
			w["timeoutSeconds"] = json.Number("10")
		}
		if cc, ok := w["clientConfig"].(map[string]interface{}); ok {
			if svc, ok := cc["service"].(map[string]interface{}); ok {
				if _, ok := svc["port"]; !ok {
					svc["port"] = json.Number("443")
				}
			}
		}
		rules, _ := w["rules"].([]interface{})
		for _, r := range rules {
			if rm, ok := r.(map[string]interface{}); ok {
				if _, ok := rm["scope"]; !ok {
					rm["scope"] = "*"
				}
			}
		}
	}
}

func validateVWC(o, old obj) []fieldError {
	var errs []fieldError
	hooks, _ := o["webhooks"].([]interface{})
	seen := map[string]bool{}
	for i, h := range hooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		w, ok := h.(map[string]interface{})
		if !ok {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p, value: h, detail: "must be an object"})
			continue
		}
		name, _ := w["name"].(string)
		if name == "" {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".name"})
		} else if strings.Count(name, ".") < 2 || !dns1123Subdomain.MatchString(name) {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".name", value: name, detail: "should be a domain with at least three segments separated by dots"})
		} else if seen[name] {
			errs = append(errs, fieldError{typ: "FieldValueDuplicate", field: p + ".name", value: name})
		}
		seen[name] = true
		vers, _ := w["admissionReviewVersions"].([]interface{})
		okv := false
		for _, v := range vers {
			if v == "v1" || v == "v1beta1" {
				okv = true
			}
		}
		if len(vers) == 0 {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".admissionReviewVersions", detail: "must specify one of v1, v1beta1"})
		} else if !okv {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".admissionReviewVersions", value: vers, detail: "must include at least one of v1, v1beta1"})
		}
		se, _ := w["sideEffects"].(string)
		switch se {
		case "None", "NoneOnDryRun":
		case "":
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".sideEffects", detail: "must specify one of None, NoneOnDryRun"})
		default:
			errs = append(errs, fieldError{typ: "FieldValueNotSupported", field: p + ".sideEffects", detail: fmt.Sprintf("%q: supported values: \"None\", \"NoneOnDryRun\"", se)})
		}
		if fp, _ := w["failurePolicy"].(string); fp != "Fail" && fp != "Ignore" {
			errs = append(errs, fieldError{typ: "FieldValueNotSupported", field: p + ".failurePolicy", detail: fmt.Sprintf("%q: supported values: \"Fail\", \"Ignore\"", fp)})
		}
		if ts, ok := w["timeoutSeconds"].(json.Number); ok {
			if n, _ := ts.Int64(); n < 1 || n > 30 {
				errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".timeoutSeconds", value: ts, detail: "the timeout value must be between 1 and 30 seconds"})
			}
		}
		cc, _ := w["clientConfig"].(map[string]interface{})
		u, hasURL := cc["url"].(string)
		svc, hasSvc := cc["service"].(map[string]interface{})
		switch {
		case hasURL && hasSvc:
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".clientConfig", detail: "exactly one of url or service is required"})
		case !hasURL && !hasSvc:
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".clientConfig", detail: "exactly one of url or service is required"})
		case hasURL && !strings.HasPrefix(u, "https://"):
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".clientConfig.url", value: u, detail: "'https' is the only allowed URL scheme"})
		case hasSvc:
			if n, _ := svc["name"].(string); n == "" {
				errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".clientConfig.service.name", detail: "service name is required"})
			}
			if n, _ := svc["namespace"].(string); n == "" {
				errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".clientConfig.service.namespace", detail: "service namespace is required"})
			}
		}
		if cab, ok := cc["caBundle"].(string); ok {
			if _, err := base64.StdEncoding.DecodeString(cab); err != nil {
				errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".clientConfig.caBundle", value: "", detail: "illegal base64 data"})
			}
		}
	}
	return errs
}

// checkVWC rejects what the typed decoding of a ValidatingWebhookConfiguration rejects.
func checkVWC(o obj) error {
	v, ok := o["webhooks"]
	if !ok || v == nil {
		return nil
	}
	hooks, ok := v.([]interface{})
	if !ok {
		return typeError(v, "ValidatingWebhookConfiguration.webhooks", "[]v1.ValidatingWebhook")
	}
	for _, h := range hooks {
		w, ok := h.(map[string]interface{})
		if !ok {
			return typeError(h, "ValidatingWebhookConfiguration.webhooks", "v1.ValidatingWebhook")
		}
		if err := checkStrings(w, "ValidatingWebhook.webhooks.", "name", "failurePolicy", "matchPolicy", "sideEffects"); err != nil {
			return err
		}
		if err := checkInt32(w["timeoutSeconds"], "ValidatingWebhook.webhooks.timeoutSeconds"); err != nil {
			return err
		}
		for _, f := range [][2]string{{"clientConfig", "v1.WebhookClientConfig"}, {"namespaceSelector", "v1.LabelSelector"}, {"objectSelector", "v1.LabelSelector"}} {
			if _, err := objectField(w[f[0]], "ValidatingWebhook.webhooks."+f[0], f[1]); err != nil {
				return err
			}
		}
		for _, ft := range [][2]string{{"rules", "v1.RuleWithOperations"}, {"admissionReviewVersions", "string"}, {"matchConditions", "v1.MatchCondition"}} {
			f, typ := ft[0], ft[1]
			if x, ok := w[f]; ok && x != nil {
				l, ok := x.([]interface{})
				if !ok {
					return typeError(x, "ValidatingWebhook.webhooks."+f, "[]"+typ)
				}
				for _, e := range l {
					if f == "admissionReviewVersions" {
						if err := checkString(e, "ValidatingWebhook.webhooks.admissionReviewVersions"); err != nil {
							return err
						}
					} else if _, ok := e.(map[string]interface{}); !ok {
						return typeError(e, "ValidatingWebhook.webhooks."+f, typ)
					}
				}
			}
		}
		if cc, ok := w["clientConfig"].(map[string]interface{}); ok {
			if err := checkStrings(cc, "WebhookClientConfig.webhooks.clientConfig.", "url", "caBundle"); err != nil {
				return err
			}
			svc, err := objectField(cc["service"], "WebhookClientConfig.webhooks.clientConfig.service", "v1.ServiceReference")
			if err != nil {
				return err
			}
			if svc != nil {
				if err := checkStrings(svc, "ServiceReference.webhooks.clientConfig.service.", "name", "namespace", "path"); err != nil {
					return err
				}
				if err := checkInt32(svc["port"], "ServiceReference.webhooks.clientConfig.service.port"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
